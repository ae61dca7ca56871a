import { useConnectionState, useVoiceAssistant } from '@livekit/components-react';
import { ConnectionState } from 'livekit-client';
import { AGENT_STATE_LABELS } from './agent-state';

/** The agent's state (listening / thinking / speaking) and, when the network drops, the reconnect. */
export function StatusBar() {
  const { state } = useVoiceAssistant();
  const connection = useConnectionState();
  const reconnecting = connection === ConnectionState.Reconnecting || connection === ConnectionState.SignalReconnecting;
  // Before the room is joined the agent cannot be anything but on its way.
  const label = connection === ConnectionState.Disconnected || connection === ConnectionState.Connecting ? AGENT_STATE_LABELS.connecting : AGENT_STATE_LABELS[state];
  return (
    <header className="status-bar">
      <span className="agent-state" data-state={state} role="status" aria-live="polite" data-testid="agent-state">
        {label}
      </span>
      {reconnecting && (
        <span className="reconnecting" role="alert" data-testid="reconnecting">
          Connection lost, reconnecting…
        </span>
      )}
    </header>
  );
}

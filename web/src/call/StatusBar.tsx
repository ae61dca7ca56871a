import { useConnectionState, useRoomContext, useVoiceAssistant } from '@livekit/components-react';
import { ConnectionState, LocalAudioTrack, type Room, RoomEvent, Track } from 'livekit-client';
import { useEffect, useState } from 'react';
import { AGENT_STATE_LABELS } from './agent-state';

/** The agent's state (listening / thinking / speaking) and, when the network drops, the reconnect. */
export function StatusBar() {
  const { state } = useVoiceAssistant();
  const connection = useConnectionState();
  const recording = useRecordingBeforeAgent(useRoomContext(), state === 'connecting' && connection === ConnectionState.Connected);
  const reconnecting = connection === ConnectionState.Reconnecting || connection === ConnectionState.SignalReconnecting;
  // Before the room is joined the agent cannot be anything but on its way. Once it is joined and the
  // microphone records for the agent (the pre-connect buffer), the user may already speak: say so,
  // rather than "Connecting…" for the 2–6 s an agent takes to join.
  const shown = connection === ConnectionState.Disconnected || connection === ConnectionState.Connecting ? 'connecting' : recording ? 'pre-connect-buffering' : state;
  return (
    <header className="status-bar">
      <span className="agent-state" data-state={shown} role="status" aria-live="polite" data-testid="agent-state">
        {AGENT_STATE_LABELS[shown]}
      </span>
      {reconnecting && (
        <span className="reconnecting" role="alert" data-testid="reconnecting">
          Connection lost, reconnecting…
        </span>
      )}
    </header>
  );
}

/**
 * Whether the microphone is recording the pre-connect buffer: livekit-client records from the
 * microphone's publication until the agent subscribes to it (or for at most 10 s) and sends that to
 * the agent, so what is said meanwhile is answered. The recorder has no event of its own; it is read
 * when the microphone is published and then every 250 ms while the agent is still awaited.
 */
function useRecordingBeforeAgent(room: Room, awaitingAgent: boolean): boolean {
  const [recording, setRecording] = useState(false);
  useEffect(() => {
    if (!awaitingAgent) {
      setRecording(false);
      return;
    }
    const read = () => {
      const track = room.localParticipant.getTrackPublication(Track.Source.Microphone)?.track;
      setRecording(track instanceof LocalAudioTrack && track.hasPreConnectBuffer && !track.isMuted);
    };
    read();
    room.on(RoomEvent.LocalTrackPublished, read).on(RoomEvent.LocalTrackUnpublished, read).on(RoomEvent.TrackMuted, read).on(RoomEvent.TrackUnmuted, read);
    const timer = setInterval(read, 250);
    return () => {
      clearInterval(timer);
      room.off(RoomEvent.LocalTrackPublished, read).off(RoomEvent.LocalTrackUnpublished, read).off(RoomEvent.TrackMuted, read).off(RoomEvent.TrackUnmuted, read);
    };
  }, [room, awaitingAgent]);
  return recording;
}

import type { AgentState } from '@livekit/components-react';

/** The agent's state in words, for the badge. */
export const AGENT_STATE_LABELS: Record<AgentState, string> = {
  disconnected: 'Disconnected',
  connecting: 'Connecting…',
  'pre-connect-buffering': 'Connecting… (listening already)',
  initializing: 'Getting ready…',
  idle: 'Idle',
  listening: 'Listening',
  thinking: 'Thinking',
  speaking: 'Speaking',
  failed: 'Unavailable',
};

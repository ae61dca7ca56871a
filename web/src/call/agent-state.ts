import type { AgentState } from '@livekit/components-react';

/** The agent's state in words, for the badge. */
export const AGENT_STATE_LABELS: Record<AgentState, string> = {
  disconnected: 'Disconnected',
  connecting: 'Connecting…',
  // The agent is not there yet, but what the user says is recorded for it (the pre-connect buffer).
  'pre-connect-buffering': 'Listening (the avatar is joining)',
  initializing: 'Getting ready…',
  idle: 'Idle',
  listening: 'Listening',
  thinking: 'Thinking',
  speaking: 'Speaking',
  failed: 'Unavailable',
};

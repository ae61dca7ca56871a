import { voice } from '@livekit/agents';
import type { LocalAvatarOutput } from '../avatar/local/avatar-output.js';
import type { TurnTimeline } from './turn-timeline.js';

/**
 * Feeds a TurnTimeline from the session's own events and the avatar's output. The LLM and TTS
 * marks come from ConversationAgent's node taps, which see the first token and first audio.
 */
export function observeTurns(session: voice.AgentSession, timeline: TurnTimeline, avatarOutput?: LocalAvatarOutput): void {
  session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => {
    const m = ev.metrics;
    // The end-of-utterance report carries when the user actually stopped speaking, before the
    // VAD's silence window and the endpointing delay: the true start of the turn's clock.
    if (m.type === 'eou_metrics' && m.lastSpeakingTimeMs > 0) timeline.markEndOfSpeech(m.lastSpeakingTimeMs);
  });
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal) timeline.markTranscript(ev.createdAt ?? Date.now());
  });
  if (avatarOutput) {
    avatarOutput.onSegmentTimings((t) => timeline.markFirstAvatarFrame(t.firstSpeakingFrameAt));
  } else {
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
      if (ev.newState === 'speaking') timeline.markFirstAvatarFrame(ev.createdAt ?? Date.now());
    });
  }
}

import { voice } from '@livekit/agents';
import type { SegmentTimingSource } from '../avatar/contract.js';
import type { TurnTimeline } from './turn-timeline.js';

/**
 * Feeds a TurnTimeline from the session's own events and the avatar's output. The LLM and TTS
 * marks come from ConversationAgent's node taps, which see the first token and first audio.
 */
export function observeTurns(session: voice.AgentSession, timeline: TurnTimeline, avatarTimings?: SegmentTimingSource): void {
  let finalTranscriptAt: number | undefined;
  session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => {
    const m = ev.metrics;
    if (m.type !== 'eou_metrics') return;
    // The end-of-utterance report carries when the user actually stopped speaking, before the
    // VAD's silence window and the endpointing delay: the true start of the turn's clock.
    if (m.lastSpeakingTimeMs > 0) {
      timeline.markEndOfSpeech(m.lastSpeakingTimeMs);
      // The report is made when the turn is committed, endOfUtteranceDelayMs after the speech ended.
      timeline.markEndOfTurn(m.lastSpeakingTimeMs + m.endOfUtteranceDelayMs);
    } else if (finalTranscriptAt !== undefined) {
      // No speech times (0): agents could not time this speech, as for the pre-connect buffer (what
      // the user said before the agent joined, played in faster than real time). The turn's clock
      // starts at its final transcript instead, so the turn is still reported, from there on.
      timeline.markEndOfSpeech(finalTranscriptAt);
      timeline.markEndOfTurn(m.timestamp);
    }
    finalTranscriptAt = undefined;
  });
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (!ev.isFinal) return;
    finalTranscriptAt = ev.createdAt ?? Date.now();
    timeline.markTranscript(finalTranscriptAt);
  });
  if (avatarTimings) {
    avatarTimings.onSegmentTimings((t) => timeline.markFirstAvatarFrame(t.firstSpeakingFrameAt));
  }
  // Voice only (or an avatar that reports no timings): the agent starting to speak is the mark.
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
    if (avatarTimings?.reporting ?? avatarTimings !== undefined) return;
    if (ev.newState === 'speaking') timeline.markFirstAvatarFrame(ev.createdAt ?? Date.now());
  });
}

/**
 * observeTurns: a turn is reported from the session's end-of-utterance report, and, when agents
 * has no speech times for it (0: the pre-connect buffer, played in faster than real time), from
 * its final transcript on.
 */
import { EventEmitter } from 'node:events';
import { voice } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { observeTurns } from '../src/metrics/observe-turns.js';
import { TurnTimeline, type TurnTimings } from '../src/metrics/turn-timeline.js';

function call() {
  const session = new EventEmitter();
  const timeline = new TurnTimeline();
  const turns: TurnTimings[] = [];
  timeline.on('turn', (t) => turns.push(t));
  observeTurns(session as unknown as voice.AgentSession, timeline);
  const eou = (lastSpeakingTimeMs: number, timestamp: number) =>
    session.emit(voice.AgentSessionEventTypes.MetricsCollected, { metrics: { type: 'eou_metrics', timestamp, endOfUtteranceDelayMs: 500, transcriptionDelayMs: 0, onUserTurnCompletedDelayMs: 0, lastSpeakingTimeMs, speechId: 's' } });
  const transcript = (createdAt: number) => session.emit(voice.AgentSessionEventTypes.UserInputTranscribed, { isFinal: true, transcript: 'q', createdAt });
  const speaking = (createdAt: number) => session.emit(voice.AgentSessionEventTypes.AgentStateChanged, { newState: 'speaking', oldState: 'thinking', createdAt });
  return { turns, eou, transcript, speaking };
}

describe('observeTurns', () => {
  it('starts the turn where the user stopped speaking', () => {
    const c = call();
    c.transcript(1_200);
    c.eou(1_000, 1_500);
    c.speaking(2_000);
    expect(c.turns).toEqual([expect.objectContaining({ endOfSpeechAt: 1_000, transcriptMs: 200, endOfTurnMs: 500, firstAvatarFrameMs: 1_000 })]);
  });

  it('reports a turn without speech times (the pre-connect buffer) from its final transcript on', () => {
    const c = call();
    c.transcript(5_000);
    c.eou(0, 5_300);
    c.speaking(6_000);
    expect(c.turns).toEqual([expect.objectContaining({ endOfSpeechAt: 5_000, transcriptMs: 0, endOfTurnMs: 300, firstAvatarFrameMs: 1_000 })]);
    // The next such report without a transcript of its own is not a turn.
    c.eou(0, 7_000);
    c.speaking(8_000);
    expect(c.turns).toHaveLength(1);
  });
});

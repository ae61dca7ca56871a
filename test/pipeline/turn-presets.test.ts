/**
 * TURN_PRESET on the wire: what the TTS is asked, and when, for the same spoken question. Tuned
 * prepares the reply's first audio while the turn is still being decided (preemptive TTS) and
 * asks for the first clause alone; stock (agents-js 1.9 defaults) asks only once the turn is
 * committed, for the first whole sentence. The endpointing delay is made long here so "before the
 * turn was committed" holds by a wide margin even on a busy machine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const QUESTION = 'Can I move my booking to Thursday?';
const REPLY = 'Sure, I can do that. Your booking is now on Thursday at ten.';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function firstSpeechRequest(preset: 'tuned' | 'stock') {
  pipeline = await startPipeline({
    transcripts: [QUESTION],
    reply: REPLY,
    env: { TURN_PRESET: preset, ENDPOINTING_MIN_DELAY_MS: '1500', ENDPOINTING_MAX_DELAY_MS: '3000' },
  });
  const turn = pipeline.nextTurn(30_000);
  await pipeline.say(QUESTION);
  const timings = await turn;
  await pipeline.replyDone();
  const request = pipeline.openai.requestsFor('speech')[0]!;
  const committedAt = timings.endOfSpeechAt + timings.endOfTurnMs!;
  return { input: (request.body as { input: string }).input, sentBeforeCommitMs: committedAt - request.at, timings };
}

/** A turn in four stretches: the STT finalises each, so four preemptive replies are started in it. */
const HESITANT = ['Hmm.', 'Let me think.', 'Actually.', 'Make it Friday instead.'];

async function hesitantTurn(env: Record<string, string>) {
  pipeline = await startPipeline({
    transcripts: HESITANT,
    reply: REPLY,
    // A pause of ~800 ms (trail + lead) ends the VAD's speech and the STT's utterance; the turn is
    // committed only 2 s after the last stretch, so every stretch belongs to one turn.
    env: { TURN_PRESET: 'tuned', ENDPOINTING_MIN_DELAY_MS: '2000', ENDPOINTING_MAX_DELAY_MS: '3000', ...env },
  });
  const turn = pipeline.nextTurn(40_000);
  for (const [i, stretch] of HESITANT.entries()) await pipeline.say(stretch, { trailMs: i === HESITANT.length - 1 ? 900 : 600 });
  const timings = await turn;
  await pipeline.replyDone();
  const committedAt = timings.endOfSpeechAt + timings.endOfTurnMs!;
  // The reply that played is the last one asked for: the earlier ones were for part of the turn.
  const chats = pipeline.openai.requestsFor('chat');
  const speech = pipeline.openai.requestsFor('speech');
  return { replySpeechBeforeCommitMs: committedAt - speech.at(-1)!.at, chats: chats.length };
}

describe('TURN_PRESET', () => {
  it('tuned: the first clause goes to the TTS before the turn is committed', async () => {
    const first = await firstSpeechRequest('tuned');
    expect(first.input).toBe('Sure,');
    expect(first.timings.endOfTurnMs).toBeGreaterThanOrEqual(1_400);
    expect(first.sentBeforeCommitMs).toBeGreaterThan(300);
  });

  it('stock: the TTS is asked only after the turn is committed, for a whole sentence', async () => {
    const first = await firstSpeechRequest('stock');
    expect(first.input).toBe('Sure, I can do that.');
    expect(first.sentBeforeCommitMs).toBeLessThanOrEqual(0);
  });

  it('tuned: a turn with three pauses still has its reply prepared before it is committed', async () => {
    const turn = await hesitantTurn({});
    // One request per stretch (each replaces the last) and none after the commit.
    expect(turn.chats).toBe(HESITANT.length);
    expect(turn.replySpeechBeforeCommitMs).toBeGreaterThan(300);
  });

  it("with agents' limit of 3 preemptive replies a turn, the fourth stretch's reply waits for the commit", async () => {
    const turn = await hesitantTurn({ PREEMPTIVE_MAX_PER_TURN: '3' });
    expect(turn.replySpeechBeforeCommitMs).toBeLessThanOrEqual(0);
  });
});

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
});

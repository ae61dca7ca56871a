/**
 * The user goes on talking after the agent has started to answer (the turn was committed at a
 * pause, as an end-of-turn model does for a share of pauses): the agent's reply pauses at their
 * voice, the final transcript of what they went on to say interrupts it, and the reply to that is
 * prepared while the new turn is being decided, as for any other turn. agents 1.9 skipped it: the
 * paused reply was not yet marked interrupted when the preemptive generation checked (a patch in
 * patches/@livekit+agents+1.9.0.patch), so that reply was asked for only after the commit.
 */
import { afterEach, expect, it } from 'vitest';
import { waitUntil } from '../livekit-server/testing.js';
import { LONG_REPLY, startPipeline, type Pipeline } from '../support/pipeline.js';

const FIRST = 'I would like to book a table.';
const SECOND = 'For two people tonight, at eight.';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

it('a reply paused by the user going on is replaced by one prepared before the new turn is committed', async () => {
  pipeline = await startPipeline({
    transcripts: [FIRST, SECOND],
    reply: (messages) => (JSON.stringify(messages.at(-1)).includes('two people') ? 'Done: a table for two at eight tonight.' : LONG_REPLY),
    env: { TURN_PRESET: 'tuned', ENDPOINTING_MIN_DELAY_MS: '1500', ENDPOINTING_MAX_DELAY_MS: '3000' },
  });
  const p = pipeline;
  const firstTurn = p.nextTurn(30_000);
  await p.say(FIRST, { trailMs: 300 });
  await firstTurn;
  // agents ignores the user's voice over the agent's first 3 s of speech (echo-cancellation
  // warm-up); past it, speech over the reply pauses it.
  const fps = p.sink.format!.fps;
  await waitUntil(() => p.sink.frames.filter((f) => f.speech).length >= fps * 3.5, 30_000, 'the agent to speak for 3.5 s');
  const secondTurn = p.nextTurn(30_000);
  await p.say(SECOND, { trailMs: 900 });
  const timings = await secondTurn;
  const committedAt = timings.endOfSpeechAt + timings.endOfTurnMs!;
  const replyRequest = p.openai
    .requestsFor('chat')
    .find((r) => JSON.stringify((r.body as { messages: unknown[] }).messages.at(-1)).includes('two people'));
  expect(replyRequest, 'a chat request for what the user went on to say').toBeDefined();
  expect(committedAt - replyRequest!.at).toBeGreaterThan(300);
});

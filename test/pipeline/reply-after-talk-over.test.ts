/**
 * A reply interrupted while its speech is still being synthesised lets go at once, so the next
 * reply is not held up. In agents 1.9 it held on for 4 s: the interrupted reply's TTS never closed
 * its timed-text stream, and the task forwarding that text to the captions could not be cancelled
 * (agents gives up after 2 s, twice). In the bench this was the user who went on talking after
 * the turn was committed at a pause: the reply to the rest of their turn came 2-4 s late. Fixed by
 * the forwardText patch in patches/@livekit+agents+1.9.0.patch.
 */
import { afterEach, expect, it } from 'vitest';
import { waitUntil } from '../livekit-server/testing.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

it('the next reply is not held up by an interrupted one whose speech was still coming', async () => {
  pipeline = await startPipeline({ transcripts: [], reply: (messages) => (JSON.stringify(messages).includes('Thursday') ? 'Done.' : 'Let me check that for you, it will only take a moment.') });
  const p = pipeline;
  // 100 ms of audio a second: the speech is still being synthesised when it is interrupted.
  p.openai.setKnobs('speech', { chunkIntervalMs: 1_000 });
  const first = p.offline.session.generateReply({ userInput: 'Can you move my booking?' });
  await waitUntil(() => p.sink.frames.some((f) => f.speech), 30_000, 'the first reply to be heard');
  first.interrupt();
  const askedAt = performance.now();
  p.openai.setKnobs('speech', { chunkIntervalMs: 0 });
  const heardBefore = p.sink.frames.length;
  p.offline.session.generateReply({ userInput: 'To Thursday.' });
  await waitUntil(() => p.sink.frames.slice(heardBefore).some((f) => f.speech), 30_000, 'the second reply to be heard');
  // Held up, it took 4 s (agents' two 2 s cancel timeouts); now it is the old speech's pending
  // chunk (up to 1 s here, tens of ms from a real TTS) and the new reply's own chain.
  expect(performance.now() - askedAt).toBeLessThan(2_500);
});

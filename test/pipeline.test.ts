import { afterEach, describe, expect, it } from 'vitest';
import { pearson, mouthOpenness, speechEnvelope } from './support/avatar-measures.js';
import { startPipeline, transcript, type Pipeline } from './support/pipeline.js';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe('the pipeline without a room, real plugins against protocol fakes', () => {
  it('hears a spoken question, asks the LLM, and the avatar speaks the reply with a moving mouth', async () => {
    pipeline = await startPipeline({
      transcripts: ['What is the tallest mountain on Earth?'],
      reply: (messages) => (String(messages.at(-1)?.content).includes('tallest mountain') ? 'Mount Everest, at about eight thousand eight hundred metres.' : 'I did not catch that.'),
    });
    const turn = pipeline.nextTurn();
    await pipeline.say('What is the tallest mountain on Earth?');
    const timings = await turn;
    await pipeline.replyDone();

    expect(transcript(pipeline.offline.session)).toEqual([
      { role: 'user', text: 'What is the tallest mountain on Earth?', interrupted: false },
      { role: 'assistant', text: 'Mount Everest, at about eight thousand eight hundred metres.', interrupted: false },
    ]);
    const chat = pipeline.openai.requestsFor('chat').at(-1)!;
    expect(JSON.stringify(chat.body)).toContain('What is the tallest mountain on Earth?');
    expect(pipeline.openai.requestsFor('speech').map((r) => (r.body as { input: string }).input).join(' ')).toContain('Mount Everest');

    // Every stage happened, in order, after the user stopped speaking.
    expect(timings.transcriptMs).toBeGreaterThanOrEqual(0);
    expect(timings.ttsFirstAudioMs).toBeGreaterThan(timings.llmFirstTokenMs!);
    expect(timings.firstAvatarFrameMs).toBeGreaterThanOrEqual(timings.ttsFirstAudioMs!);

    // The avatar spoke: speech frames with audio, and a mouth that follows the voice.
    const { frames } = pipeline.sink;
    const speaking = frames.filter((f) => f.speech).length;
    expect(speaking / 25).toBeGreaterThan(2); // the reply is ~3 s of espeak speech
    const audio = speechEnvelope(pipeline.sink);
    const mouth = mouthOpenness(pipeline.sink);
    if (process.env.DEBUG_PIPELINE) console.log({ timings, r: pearson(mouth, audio), speaking, frames: frames.length });
    expect(pearson(mouth, audio)).toBeGreaterThan(0.6);
    expect(pipeline.errors).toEqual([]);
  });
});

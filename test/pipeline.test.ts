import { afterEach, describe, expect, it } from 'vitest';
import { pearson, mouthOpenness, speechEnvelope } from './support/avatar-measures.js';
import { collectUnhandledRejections } from './fakes/wait.js';
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

    // Every stage happened, in order. (Not "after the end of speech": that mark is when agents'
    // VAD processed the last voiced window, which trails the audio on a busy machine.)
    expect(timings.llmFirstTokenMs).toBeGreaterThan(timings.transcriptMs!);
    expect(timings.ttsFirstAudioMs).toBeGreaterThan(timings.llmFirstTokenMs!);
    expect(timings.firstAvatarFrameMs).toBeGreaterThanOrEqual(timings.ttsFirstAudioMs!);

    // The avatar spoke: speech frames with audio, and a mouth that follows the voice.
    const { frames } = pipeline.sink;
    const speaking = frames.filter((f) => f.speech).length;
    expect(speaking / 25).toBeGreaterThan(2); // the reply is ~3 s of espeak speech
    const audio = speechEnvelope(pipeline.sink);
    const mouth = mouthOpenness(pipeline.sink);
    expect(pearson(mouth, audio)).toBeGreaterThan(0.6);
    expect(pipeline.errors).toEqual([]);
  });
});

describe('barge-in', () => {
  it('stops the reply and the mouth when the user speaks over the avatar, then answers the new question', async () => {
    pipeline = await startPipeline({
      transcripts: ['Tell me a long story.', 'Stop, what time is it?'],
      reply: (messages) =>
        String(messages.at(-1)?.content).includes('time')
          ? 'It is noon.'
          : 'Once upon a time there was a very patient avatar who told long stories about mountains, rivers, forests and the sea, and it went on for a long while without stopping at all.',
    });
    const first = pipeline.nextTurn();
    await pipeline.say('Tell me a long story.');
    await first;
    await new Promise((r) => setTimeout(r, 1500)); // the story is under way
    const second = pipeline.nextTurn();
    const bargeInAt = Date.now();
    await pipeline.say('Stop, what time is it?');
    await second;
    await pipeline.replyDone();

    const lines = transcript(pipeline.offline.session);
    const story = lines.find((l) => l.text.startsWith('Once upon a time'));
    expect(story?.interrupted).toBe(true);
    expect(lines.at(-1)).toEqual({ role: 'assistant', text: 'It is noon.', interrupted: false });
    // The story's speech frames end soon after the user started talking over it.
    const storyFrames = pipeline.sink.frames.filter((f) => f.speech && f.wallMs >= bargeInAt);
    const silentGap = pipeline.sink.frames.find((f) => !f.speech && f.wallMs >= bargeInAt);
    expect(silentGap).toBeDefined();
    expect(silentGap!.wallMs - bargeInAt).toBeLessThan(2000);
    expect(storyFrames.length).toBeGreaterThan(0);
  });
});

describe('other providers', () => {
  it('speaks through ElevenLabs streaming TTS', async () => {
    pipeline = await startPipeline({ tts: 'elevenlabs', transcripts: ['Say hello.'], reply: 'Hello from the streaming voice.' });
    const turn = pipeline.nextTurn();
    await pipeline.say('Say hello.');
    await turn;
    await pipeline.replyDone();
    expect(transcript(pipeline.offline.session).at(-1)?.text).toBe('Hello from the streaming voice.');
    const socket = pipeline.elevenlabs.requests.at(-1)!;
    expect(socket.apiKey).toBe('el-test-key-123');
    expect(pipeline.sink.frames.filter((f) => f.speech).length).toBeGreaterThan(20);
  });

  it('transcribes with an OpenAI-compatible transcription server', async () => {
    pipeline = await startPipeline({ stt: 'openai', transcripts: ['How are you?'], reply: 'Very well, thank you.' });
    const turn = pipeline.nextTurn();
    await pipeline.say('How are you?');
    await turn;
    expect(transcript(pipeline.offline.session)[0]).toEqual({ role: 'user', text: 'How are you?', interrupted: false });
    expect(pipeline.openai.requestsFor('transcriptions').length).toBeGreaterThan(0);
  });
});

describe('provider faults keep the conversation alive', () => {
  it('an LLM that answers 500 gives a clear error; the next question is answered once it recovers', async () => {
    pipeline = await startPipeline({ transcripts: ['First question?', 'Second question?'], reply: 'Here is my answer.' });
    pipeline.openai.setKnobs('chat', { fault: 'http500' });
    await pipeline.say('First question?');
    await waitUntil(() => pipeline!.errors.length > 0, 30_000, 'the LLM error to be reported');
    expect(pipeline.errors[0]).toMatch(/^language model \(.*\) failed: .*500/);
    expect(pipeline.sink.frames.some((f) => f.speech)).toBe(false);

    pipeline.openai.setKnobs('chat', { fault: null });
    const turn = pipeline.nextTurn();
    await pipeline.say('Second question?');
    await turn;
    await pipeline.replyDone();
    expect(transcript(pipeline.offline.session).at(-1)).toEqual({ role: 'assistant', text: 'Here is my answer.', interrupted: false });
  });

  it('a TTS that drops the connection gives a clear error; the avatar keeps idling and answers later', async () => {
    pipeline = await startPipeline({ transcripts: ['First question?', 'Second question?'], reply: 'Here is my answer.' });
    const p = pipeline;
    p.openai.setKnobs('speech', { fault: 'drop' });
    // agents 1.9.0's ChunkedStream rethrows a failed attempt from a promise nobody awaits; the
    // job process swallows such rejections (as `converse` does), vitest would count it.
    const { rejections } = await collectUnhandledRejections(async () => {
      await p.say('First question?');
      await waitUntil(() => p.errors.length > 0, 30_000, 'the TTS error to be reported');
    }, 300);
    expect(rejections.every((r) => /terminated|other side closed/i.test(String(r)))).toBe(true);
    expect(p.errors[0]).toMatch(/^text-to-speech \(.*\) failed: .*(terminated|closed)/);
    const framesAtError = p.sink.frames.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(p.sink.frames.length).toBeGreaterThan(framesAtError + 5); // still rendering

    p.openai.setKnobs('speech', { fault: null });
    const turn = p.nextTurn();
    await p.say('Second question?');
    await turn;
    await p.replyDone();
    expect(p.sink.frames.filter((f) => f.speech).length).toBeGreaterThan(10);
  });
});

describe('a provider that hangs', () => {
  it('times out after PROVIDER_TIMEOUT_MS with a clear error instead of stalling the conversation', async () => {
    pipeline = await startPipeline({
      transcripts: ['Are you there?', 'Hello again?'],
      reply: 'Yes, I am here.',
      env: { PROVIDER_TIMEOUT_MS: '1500', PROVIDER_MAX_RETRIES: '0' },
    });
    const p = pipeline;
    p.openai.setKnobs('chat', { fault: 'hang' });
    await p.say('Are you there?');
    const asked = Date.now();
    await waitUntil(() => p.errors.length > 0, 15_000, 'the LLM timeout to be reported');
    expect(Date.now() - asked).toBeLessThan(6000);
    expect(p.errors[0]).toMatch(/^language model \(.*\) failed: .*time/i);

    p.openai.setKnobs('chat', { fault: null });
    const turn = p.nextTurn();
    await p.say('Hello again?');
    await turn;
    await p.replyDone();
    expect(transcript(p.offline.session).at(-1)?.text).toBe('Yes, I am here.');
  });
});

async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The fake OpenAI server against the real `@livekit/agents-plugin-openai` LLM, TTS and STT, over
 * real HTTP on loopback.
 */
import { APIConnectionError, APIStatusError, APITimeoutError, initializeLogger, llm, type tts } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromAudioFrames, toAudioFrames } from './fakes/frames.js';
import { type FakeOpenAI, OPENAI_TTS_SAMPLE_RATE, startFakeOpenAI } from './fakes/openai.js';
import { durationMs, rms, silence, speechWithSilence, synthesize } from './fakes/speech.js';
import { collectUnhandledRejections, readUntil, withTimeout } from './fakes/wait.js';

const NO_RETRY = { maxRetry: 0, retryIntervalMs: 100, timeoutMs: 5_000 };
const KEY = 'sk-test-123';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function userTurn(text: string): llm.ChatContext {
  const ctx = new llm.ChatContext();
  ctx.addMessage({ role: 'system', content: 'You are terse.' });
  ctx.addMessage({ role: 'user', content: text });
  return ctx;
}

/** Reads a chat stream to its end (bounded), returning the text and the chunks. */
async function readChat(stream: llm.LLMStream, ms = 5_000): Promise<{ text: string; chunks: llm.ChatChunk[] }> {
  const { items } = await readUntil(stream, () => false, ms, (c) => JSON.stringify(c.delta ?? c.usage));
  return { text: items.map((c) => c.delta?.content ?? '').join(''), chunks: items };
}

async function readAudio(stream: AsyncIterator<tts.SynthesizedAudio>, ms = 10_000) {
  const { items } = await readUntil(stream, () => false, ms, () => 'audio');
  return items;
}

describe('fake OpenAI chat completions with the real openai.LLM plugin', () => {
  it('streams the scripted reply in small deltas, with usage, and records the request', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, reply: (messages) => `Sure. You asked: ${messages.at(-1)!.content as string} Anything else?` });
    const model = new openai.LLM({ baseURL: fake.baseURL, apiKey: KEY, model: 'gpt-4.1-mini' });
    const { text, chunks } = await readChat(model.chat({ chatCtx: userTurn('How tall is Everest?'), connOptions: NO_RETRY }));

    expect(text).toBe('Sure. You asked: How tall is Everest? Anything else?');
    const contentChunks = chunks.filter((c) => c.delta?.content);
    expect(contentChunks.length).toBe(text.split(' ').length);
    const usage = chunks.find((c) => c.usage)?.usage;
    expect(usage?.completionTokens).toBe(contentChunks.length);
    expect(usage?.totalTokens).toBe(usage!.promptTokens + usage!.completionTokens);

    const [request] = fake.requestsFor('chat');
    expect(request!.apiKey).toBe(KEY);
    expect(request!.body).toMatchObject({
      model: 'gpt-4.1-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'How tall is Everest?' },
      ],
    });
  });

  it('paces tokens with ttftMs and tokenIntervalMs', async () => {
    fake = await startFakeOpenAI({ reply: 'one two three four five' });
    fake.setKnobs('chat', { ttftMs: 300, tokenIntervalMs: 50 });
    const model = new openai.LLM({ baseURL: fake.baseURL, apiKey: KEY, model: 'gpt-4.1-mini' });
    const started = Date.now();
    const stream = model.chat({ chatCtx: userTurn('count'), connOptions: NO_RETRY });
    const first = await readUntil(stream, (c) => Boolean(c.delta?.content), 5_000);
    const ttft = Date.now() - started;
    const rest = await readChat(stream);
    const total = Date.now() - started;
    expect(first.items.at(-1)!.delta!.content).toBe('one');
    expect(rest.text).toBe(' two three four five');
    expect(ttft).toBeGreaterThanOrEqual(280);
    expect(total - ttft).toBeGreaterThanOrEqual(4 * 50 - 20);
  });

  it('surfaces http500 as an APIStatusError with the status code', async () => {
    fake = await startFakeOpenAI({ knobs: { chat: { fault: 'http500' } } });
    const model = new openai.LLM({ baseURL: fake.baseURL, apiKey: KEY, model: 'gpt-4.1-mini' });
    const errors: unknown[] = [];
    model.on('error', (ev) => errors.push(ev.error));
    const { text } = await readChat(model.chat({ chatCtx: userTurn('hi'), connOptions: NO_RETRY }));
    expect(text).toBe('');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(APIStatusError);
    expect((errors[0] as APIStatusError).statusCode).toBe(500);
  });

  it('surfaces a dropped stream as a connection error after the partial text', async () => {
    fake = await startFakeOpenAI({ reply: 'Partial answer that never finishes', knobs: { chat: { fault: 'drop' } } });
    const model = new openai.LLM({ baseURL: fake.baseURL, apiKey: KEY, model: 'gpt-4.1-mini' });
    const errors: unknown[] = [];
    model.on('error', (ev) => errors.push(ev.error));
    const { text } = await readChat(model.chat({ chatCtx: userTurn('hi'), connOptions: NO_RETRY }));
    expect(text).toBe('Partial');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(APIConnectionError);
  });

  it('times out a hung request with APITimeoutError (connOptions.timeoutMs)', async () => {
    fake = await startFakeOpenAI({ knobs: { chat: { fault: 'hang' } } });
    const model = new openai.LLM({ baseURL: fake.baseURL, apiKey: KEY, model: 'gpt-4.1-mini' });
    const errors: unknown[] = [];
    model.on('error', (ev) => errors.push(ev.error));
    const started = Date.now();
    await readChat(model.chat({ chatCtx: userTurn('hi'), connOptions: { ...NO_RETRY, timeoutMs: 500 } }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(errors[0]).toBeInstanceOf(APITimeoutError);
  });

  it('close() ends hung requests at once', async () => {
    fake = await startFakeOpenAI({ knobs: { chat: { fault: 'hang' } } });
    const pending = fetch(`${fake.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await withTimeout(
      (async () => {
        while (fake!.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
      2_000,
      'the request to arrive',
    );
    const started = Date.now();
    await fake.close();
    expect(Date.now() - started).toBeLessThan(500);
    await expect(pending).rejects.toThrow();
  });

  it('refuses a wrong API key with 401', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    const model = new openai.LLM({ baseURL: fake.baseURL, apiKey: 'sk-wrong', model: 'gpt-4.1-mini' });
    const errors: unknown[] = [];
    model.on('error', (ev) => errors.push(ev.error));
    await readChat(model.chat({ chatCtx: userTurn('hi'), connOptions: NO_RETRY }));
    expect((errors[0] as APIStatusError).statusCode).toBe(401);
    expect(fake.requests[0]).toMatchObject({ apiKey: 'sk-wrong', status: 401 });
  });
});

describe('fake OpenAI speech with the real openai.TTS plugin', () => {
  const TEXT = 'The quick brown fox jumps over the lazy dog.';

  // Plugin quirk: the openai TTS ChunkedStream never flushes its AudioByteStream, so the audio's
  // last partial 100 ms frame (2400 samples) is dropped.
  it('returns 24 kHz PCM speech whose duration matches the text (less the last partial frame)', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    const voice = new openai.TTS({ baseURL: fake.baseURL, apiKey: KEY, model: 'gpt-4o-mini-tts', voice: 'nova' });
    const frames = (await readAudio(voice.synthesize(TEXT, NO_RETRY))).map((a) => a.frame);
    const audio = fromAudioFrames(frames);
    const expected = await synthesize(TEXT, { sampleRate: OPENAI_TTS_SAMPLE_RATE });

    expect(audio.sampleRate).toBe(24_000);
    expect(audio.samples.length).toBe(Math.floor(expected.samples.length / 2400) * 2400);
    // About 2-4 words per second, as speech goes; and not silence.
    expect(durationMs(audio)).toBeGreaterThan((TEXT.split(' ').length / 4) * 1000);
    expect(durationMs(audio)).toBeLessThan((TEXT.split(' ').length / 2) * 1000);
    expect(rms(audio.samples)).toBeGreaterThan(500);

    expect(fake.requestsFor('speech')[0]!.body).toMatchObject({ input: TEXT, model: 'gpt-4o-mini-tts', voice: 'nova', response_format: 'pcm', speed: 1 });
  });

  // agents 1.9.0 quirk: a failed ChunkedStream rethrows from a promise nobody awaits, so each
  // failure below is also an unhandled rejection (the LiveKit job process logs and ignores those).
  it('surfaces http500 as an error event and ends the stream', async () => {
    fake = await startFakeOpenAI({ knobs: { speech: { fault: 'http500' } } });
    const voice = new openai.TTS({ baseURL: fake.baseURL, apiKey: KEY });
    const errors: unknown[] = [];
    voice.on('error', (ev) => errors.push(ev.error));
    const { result: frames, rejections } = await collectUnhandledRejections(() => readAudio(voice.synthesize(TEXT, NO_RETRY), 5_000));
    expect(frames).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status: 500 });
    expect(rejections).toEqual([errors[0]]);
  });

  it('surfaces a dropped body as an error instead of short audio', async () => {
    fake = await startFakeOpenAI({ knobs: { speech: { fault: 'drop' } } });
    const voice = new openai.TTS({ baseURL: fake.baseURL, apiKey: KEY });
    const errors: unknown[] = [];
    voice.on('error', (ev) => errors.push(ev.error));
    const { result: frames, rejections } = await collectUnhandledRejections(() => readAudio(voice.synthesize(TEXT, NO_RETRY), 5_000));
    expect(frames).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/terminated/);
    expect(rejections).toHaveLength(1);
  });
});

describe('fake OpenAI transcriptions with the real openai.STT plugin (useRealtime: false)', () => {
  it('transcribes speech with the scripted text, and silence as empty', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, transcripts: ['Is it going to rain tomorrow?'] });
    const ear = new openai.STT({ baseURL: fake.baseURL, apiKey: KEY, useRealtime: false, model: 'whisper-1', language: 'en' });

    const quiet = await ear.recognize(toAudioFrames(silence(800, 16_000)));
    expect(quiet.alternatives?.[0]?.text).toBe('');
    const spoken = await ear.recognize(toAudioFrames(await speechWithSilence('is it going to rain tomorrow', { sampleRate: 16_000 })));
    expect(spoken.alternatives?.[0]?.text).toBe('Is it going to rain tomorrow?');

    const [, second] = fake.requestsFor('transcriptions');
    expect(second!.apiKey).toBe(KEY);
    expect(second!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(second!.body).toMatchObject({ model: 'whisper-1', language: 'en', response_format: 'json', file: { filename: 'audio.wav', type: 'audio/wav' } });
  });

  it('rejects recognize() on http500 (the raw OpenAI SDK error, not wrapped)', async () => {
    fake = await startFakeOpenAI({ knobs: { transcriptions: { fault: 'http500', faultTimes: 1 } }, transcripts: ['after the fault'] });
    const ear = new openai.STT({ baseURL: fake.baseURL, apiKey: KEY, useRealtime: false });
    const frames = toAudioFrames(await speechWithSilence('hello', { sampleRate: 16_000 }));
    await expect(withTimeout(ear.recognize(frames), 5_000, 'recognize')).rejects.toMatchObject({ status: 500 });
    // faultTimes: 1, so the next request succeeds.
    expect((await ear.recognize(frames)).alternatives?.[0]?.text).toBe('after the fault');
  });
});

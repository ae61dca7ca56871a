/**
 * The OpenAI-compatible speech reader against the OpenAI fake: the first audio reaches the session
 * while the server is still sending (the plugin waits for the last byte), the audio is the same,
 * and failures are the APIErrors agents expects (a retry only where nothing was heard yet).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { APIConnectionError, APIStatusError, APITimeoutError, initializeLogger, type tts } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { concatPcm } from '../../src/audio/pcm.js';
import { StreamingSpeechTTS } from '../../src/pipeline/streaming-speech-tts.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { collectUnhandledRejections } from '../fakes/wait.js';

initializeLogger({ pretty: false, level: 'silent' });
const KEY = 'sk-test-key-123';
const TEXT = 'Sure, I can do that. Your booking is now on Thursday at ten in the morning.';
const NO_RETRY = { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 5_000 };

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

interface Heard {
  samples: Int16Array;
  /** Wall time of the first and last frame. */
  firstAt: number;
  lastAt: number;
  errors: unknown[];
}

async function listen(model: tts.TTS, text: string, connOptions = NO_RETRY): Promise<Heard> {
  const errors: unknown[] = [];
  model.on('error', (ev) => errors.push(ev.error));
  const chunks: Int16Array[] = [];
  let firstAt = 0;
  let lastAt = 0;
  // agents 1.9's ChunkedStream also rethrows a failed request from a promise nobody awaits (a job
  // process swallows those); what the session sees is the 'error' event, collected here.
  await collectUnhandledRejections(async () => {
    try {
      for await (const audio of model.synthesize(text, connOptions)) {
        lastAt = Date.now();
        firstAt ||= lastAt;
        chunks.push(audio.frame.data);
      }
    } catch (err) {
      errors.push(err);
    }
  }, 100);
  return { samples: concatPcm(chunks), firstAt, lastAt, errors };
}

describe('StreamingSpeechTTS (OpenAI-compatible /v1/audio/speech, read as it streams)', () => {
  it('hands over the first audio while the server is still sending, where the plugin waits for the last byte; the audio is the same', async () => {
    // 100 ms of audio every 120 ms: the ~4 s sentence takes ~5 s to arrive, as a slow server's would.
    fake = await startFakeOpenAI({ apiKey: KEY, knobs: { speech: { chunkIntervalMs: 120 } } });
    const ours = await listen(new StreamingSpeechTTS({ apiKey: KEY, baseUrl: fake.baseURL, model: 'tts-1', voice: 'alloy' }), TEXT);
    const plugin = await listen(new openai.TTS({ apiKey: KEY, baseURL: fake.baseURL, model: 'tts-1', voice: 'alloy' }), TEXT);

    expect(ours.errors).toEqual([]);
    expect(plugin.errors).toEqual([]);
    // Ours: frames spread over the response; the plugin: all at once, after it ended.
    expect(ours.lastAt - ours.firstAt).toBeGreaterThan(2_000);
    expect(plugin.lastAt - plugin.firstAt).toBeLessThan(ours.lastAt - ours.firstAt - 2_000);
    // The same audio, in order; ours also keeps the sentence's last partial 100 ms, which the
    // agents 1.9 plugin drops (its AudioByteStream is never flushed).
    expect(ours.samples.length).toBeGreaterThanOrEqual(plugin.samples.length);
    expect(ours.samples.length - plugin.samples.length).toBeLessThan(2_400);
    expect(Buffer.from(ours.samples.subarray(0, plugin.samples.length).slice().buffer).equals(Buffer.from(plugin.samples.buffer))).toBe(true);
    const body = fake.requestsFor('speech')[0]!.body as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'tts-1', voice: 'alloy', input: TEXT, response_format: 'pcm' });
  });

  it('a refused key is a non-retryable APIStatusError naming the status, asked once', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    const heard = await listen(new StreamingSpeechTTS({ apiKey: 'sk-wrong', baseUrl: fake.baseURL, model: 'tts-1', voice: 'alloy' }), TEXT, { ...NO_RETRY, maxRetry: 3 });
    expect(heard.samples.length).toBe(0);
    const error = heard.errors.find((e) => e instanceof APIStatusError) as APIStatusError | undefined;
    expect(error?.statusCode).toBe(401);
    expect(error?.message).toMatch(/answered 401/);
    expect(fake.requestsFor('speech')).toHaveLength(1);
  });

  it('a stream that breaks off after the first audio keeps what was heard and is not repeated', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, knobs: { speech: { fault: 'drop' } } });
    const heard = await listen(new StreamingSpeechTTS({ apiKey: KEY, baseUrl: fake.baseURL, model: 'tts-1', voice: 'alloy' }), TEXT, { ...NO_RETRY, maxRetry: 3 });
    // The fake sends one 100 ms chunk, then drops: all of it reached the listener.
    expect(heard.samples.length).toBe(2_400);
    expect(heard.errors.some((e) => e instanceof APIConnectionError && !e.retryable)).toBe(true);
    expect(fake.requestsFor('speech')).toHaveLength(1);
  });

  it('a server that never answers times out after the connection timeout, and is retried', async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, knobs: { speech: { fault: 'hang', faultTimes: 1 } } });
    const started = Date.now();
    const heard = await listen(new StreamingSpeechTTS({ apiKey: KEY, baseUrl: fake.baseURL, model: 'tts-1', voice: 'alloy' }), TEXT, { maxRetry: 1, retryIntervalMs: 0, timeoutMs: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // The second attempt got the audio.
    expect(heard.errors.filter((e) => !(e instanceof APITimeoutError))).toEqual([]);
    expect(heard.samples.length).toBeGreaterThan(24_000);
    expect(fake.requestsFor('speech')).toHaveLength(2);
  });
});

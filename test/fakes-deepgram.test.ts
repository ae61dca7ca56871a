/**
 * The fake Deepgram server against the real `@livekit/agents-plugin-deepgram` STT, over a real
 * WebSocket on loopback: espeak-ng speech in, scripted transcripts out.
 */
import { APIStatusError, initializeLogger, stt } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeDeepgram, startFakeDeepgram } from './fakes/deepgram.js';
import { toAudioFrames } from './fakes/frames.js';
import { rms, speechWithSilence, synthesize } from './fakes/speech.js';
import { readUntil, waitFor, withTimeout } from './fakes/wait.js';

const NO_RETRY = { maxRetry: 0, retryIntervalMs: 100, timeoutMs: 5_000 };
const QUESTION = 'What is the weather like in Paris today?';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

let fake: FakeDeepgram | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function describeEvent(ev: stt.SpeechEvent): string {
  return `${stt.SpeechEventType[ev.type]}${ev.alternatives?.[0] ? `(${ev.alternatives[0].text})` : ''}`;
}

const isFinal = (ev: stt.SpeechEvent) => ev.type === stt.SpeechEventType.FINAL_TRANSCRIPT;

async function pushSpeech(stream: stt.SpeechStream, text: string, trailMs = 1200): Promise<number> {
  const audio = await speechWithSilence(text, { sampleRate: 16_000, leadMs: 200, trailMs });
  for (const frame of toAudioFrames(audio, 20)) stream.pushFrame(frame);
  return audio.samples.length / audio.sampleRate;
}

describe('fake Deepgram with the real deepgram.STT plugin', () => {
  it('streams interim results, then the scripted final transcript with word timings', async () => {
    fake = await startFakeDeepgram({ transcripts: [QUESTION], apiKey: 'dg-test-key' });
    const plugin = new deepgram.STT({ apiKey: 'dg-test-key', baseUrl: fake.baseUrl });
    const stream = plugin.stream({ connOptions: NO_RETRY });
    const seconds = await pushSpeech(stream, QUESTION);

    const { items } = await readUntil(stream, isFinal, 10_000, describeEvent);
    const types = items.map((ev) => ev.type);
    const interims = items.filter((ev) => ev.type === stt.SpeechEventType.INTERIM_TRANSCRIPT);
    const final = items.at(-1)!.alternatives![0]!;

    expect(types[0]).toBe(stt.SpeechEventType.START_OF_SPEECH);
    expect(interims.length).toBeGreaterThan(0);
    for (const ev of interims) expect(QUESTION.startsWith(ev.alternatives![0]!.text)).toBe(true);
    expect(final.text).toBe(QUESTION);
    expect(final.words?.map((w) => w.text)).toEqual(QUESTION.split(' '));
    // Word timings fall inside the pushed audio (leading silence 200 ms), in order.
    expect(final.startTime).toBeGreaterThanOrEqual(0.15);
    expect(final.endTime).toBeLessThan(seconds);
    expect(final.endTime).toBeGreaterThan(final.startTime + 1);

    // speech_final ends the turn for the plugin.
    const after = await readUntil(stream, (ev) => ev.type === stt.SpeechEventType.END_OF_SPEECH, 3_000, describeEvent);
    expect(after.items.at(-1)!.type).toBe(stt.SpeechEventType.END_OF_SPEECH);

    const [request] = fake.requests;
    expect(request!.path).toBe('/v1/listen');
    expect(request!.apiKey).toBe('dg-test-key');
    expect(request!.query.get('encoding')).toBe('linear16');
    expect(request!.query.get('sample_rate')).toBe('16000');
    expect(request!.query.get('vad_events')).toBe('true');
    expect(request!.binaryBytes).toBeGreaterThan(16_000 * 2 * 1.5);
    expect(request!.sent!.some((m) => (m as { type?: string }).type === 'SpeechStarted')).toBe(true);

    // Ending the input sends CloseStream; the fake answers with Metadata and closes.
    stream.endInput();
    await readUntil(stream, () => false, 5_000, describeEvent);
    expect(request!.messages).toContainEqual({ type: 'CloseStream' });
    expect(request!.sent!.at(-1)).toMatchObject({ type: 'Metadata', channels: 1 });
  });

  it('gets the microphone in 50 ms chunks, so the end of speech is not held back 100 ms in the plugin (patched, as the Python plugin sends)', async () => {
    fake = await startFakeDeepgram({ transcripts: [QUESTION], apiKey: 'dg-test-key' });
    const plugin = new deepgram.STT({ apiKey: 'dg-test-key', baseUrl: fake.baseUrl });
    const stream = plugin.stream({ connOptions: NO_RETRY });
    // One second of 16 kHz audio in 10 ms frames, as the room delivers it.
    for (let i = 0; i < 100; i++) stream.pushFrame(new AudioFrame(new Int16Array(160), 16_000, 1, 160));
    await waitFor(() => (fake!.requests[0]?.binaryBytes ?? 0) >= 16_000, 5_000, 'half a second of audio at the fake').catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (${JSON.stringify(fake!.requests.map((r) => [r.status, r.binaryBytes, r.binaryMessages]))})`);
    });
    const { binaryBytes, binaryMessages } = fake.requests[0]!;
    // Each chunk carries at most 50 ms (1,600 bytes at 16 kHz); upstream's 100 ms chunks fail here.
    expect(binaryBytes! / binaryMessages!).toBeLessThanOrEqual(1_600);
    stream.close();
  });

  it('consumes one scripted transcript per utterance, in order', async () => {
    fake = await startFakeDeepgram({ transcripts: (i) => ['Good morning.', 'Tell me a joke.'][i] ?? '' });
    const plugin = new deepgram.STT({ apiKey: 'k', baseUrl: fake.baseUrl });
    const stream = plugin.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'good morning', 800);
    await pushSpeech(stream, 'tell me a joke', 800);

    const first = await readUntil(stream, isFinal, 10_000, describeEvent);
    const second = await readUntil(stream, isFinal, 10_000, describeEvent);
    expect(first.items.at(-1)!.alternatives![0]!.text).toBe('Good morning.');
    expect(second.items.at(-1)!.alternatives![0]!.text).toBe('Tell me a joke.');
    expect(fake.utterances).toBe(2);
    stream.close();
  });

  it('answers Finalize (stream.flush) with a final result for speech still in progress', async () => {
    fake = await startFakeDeepgram({ transcripts: ['Stop right there'] });
    const plugin = new deepgram.STT({ apiKey: 'k', baseUrl: fake.baseUrl });
    const stream = plugin.stream({ connOptions: NO_RETRY });
    // Speech cut at its last loud sample: no pause, so only Finalize can end the utterance.
    const speech = await synthesize('stop right there', { sampleRate: 16_000 });
    let end = speech.samples.length;
    while (end > 160 && rms(speech.samples, end - 160, end) < 400) end -= 160;
    for (const frame of toAudioFrames({ sampleRate: 16_000, samples: speech.samples.slice(0, end) })) stream.pushFrame(frame);
    stream.flush();

    const { items } = await readUntil(stream, isFinal, 10_000, describeEvent);
    expect(items.at(-1)!.alternatives![0]!.text).toBe('Stop right there');
    expect(fake.requests[0]!.messages).toContainEqual({ type: 'Finalize' });
    expect(fake.requests[0]!.sent!.find((m) => (m as { is_final?: boolean }).is_final)).toMatchObject({ from_finalize: true, speech_final: false });
    stream.close();
  });

  it('delays final results by the latencyMs knob', async () => {
    fake = await startFakeDeepgram({ transcripts: ['Hello there'] });
    fake.setKnobs({ latencyMs: 700 });
    const plugin = new deepgram.STT({ apiKey: 'k', baseUrl: fake.baseUrl });
    const stream = plugin.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'hello there', 600);
    const interim = await readUntil(stream, (ev) => ev.type === stt.SpeechEventType.INTERIM_TRANSCRIPT, 10_000, describeEvent);
    const interimAt = Date.now();
    expect(interim.ended).toBe(false);
    const { items } = await readUntil(stream, isFinal, 10_000, describeEvent);
    expect(items.at(-1)!.alternatives![0]!.text).toBe('Hello there');
    // Audio is pushed faster than real time, so without the knob the final follows within a few ms.
    expect(Date.now() - interimAt).toBeGreaterThanOrEqual(650);
    stream.close();
  });

  it('serves pre-recorded recognize() over POST /v1/listen', async () => {
    fake = await startFakeDeepgram({ transcripts: ['Turn on the lights.'], apiKey: 'dg-test-key' });
    const plugin = new deepgram.STT({ apiKey: 'dg-test-key', baseUrl: fake.baseUrl });
    const audio = await speechWithSilence('turn on the lights', { sampleRate: 16_000 });
    const event = await withTimeout(plugin.recognize(toAudioFrames(audio)), 5_000, 'recognize');
    expect(event.type).toBe(stt.SpeechEventType.FINAL_TRANSCRIPT);
    expect(event.alternatives![0]!.text).toBe('Turn on the lights.');
    expect(event.alternatives![0]!.words?.map((w) => w.text)).toEqual(['Turn', 'on', 'the', 'lights.']);
    expect(fake.requests[0]).toMatchObject({ method: 'POST', endpoint: 'listen-prerecorded', apiKey: 'dg-test-key', status: 200 });
  });

  it('close() ends a hung connection at once', async () => {
    fake = await startFakeDeepgram({ knobs: { fault: 'hang' } });
    const plugin = new deepgram.STT({ apiKey: 'k', baseUrl: fake.baseUrl });
    const stream = plugin.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'hello', 200);
    await waitFor(() => fake!.requests[0]?.status === 101 && (fake!.requests[0]!.binaryBytes ?? 0) > 0, 5_000, 'audio to reach the hung fake');
    const started = Date.now();
    await fake.close();
    expect(Date.now() - started).toBeLessThan(500);
    stream.close();
  });

  it('surfaces a refused connection (http500) as an APIStatusError and ends the stream', async () => {
    fake = await startFakeDeepgram({ transcripts: ['unused'], knobs: { fault: 'http500' } });
    const plugin = new deepgram.STT({ apiKey: 'k', baseUrl: fake.baseUrl });
    const errors: stt.SpeechEvent[] = [];
    const errorEvents: unknown[] = [];
    plugin.on('error', (ev) => errorEvents.push(ev.error));
    const stream = plugin.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'hello', 200);

    const { ended } = await readUntil(stream, (ev) => (errors.push(ev), false), 5_000, describeEvent);
    expect(ended).toBe(true);
    expect(errorEvents).toHaveLength(1);
    expect(errorEvents[0]).toBeInstanceOf(APIStatusError);
    expect((errorEvents[0] as APIStatusError).statusCode).toBe(500);
    expect(fake.requests[0]!.status).toBe(500);
  });

  it('refuses a wrong API key with 401', async () => {
    fake = await startFakeDeepgram({ apiKey: 'right-key' });
    const plugin = new deepgram.STT({ apiKey: 'wrong-key', baseUrl: fake.baseUrl });
    const errorEvents: unknown[] = [];
    plugin.on('error', (ev) => errorEvents.push(ev.error));
    const stream = plugin.stream({ connOptions: NO_RETRY });
    const { ended } = await readUntil(stream, () => false, 5_000, describeEvent);
    expect(ended).toBe(true);
    expect((errorEvents[0] as APIStatusError).statusCode).toBe(401);
    expect(fake.requests[0]).toMatchObject({ apiKey: 'wrong-key', status: 401 });
  });

  // Plugin quirk pinned here (agents-plugin-deepgram 1.9.0): its socket monitor is a Task handed to
  // Promise.all, which does not await it, so an abrupt close is only logged. The plugin neither
  // reconnects nor reports an error: the stream goes deaf until closed. If this test starts failing,
  // the plugin was fixed and the app's own watchdog (if any) can go.
  it('drops the socket after the first result (the plugin then goes deaf, without error)', async () => {
    fake = await startFakeDeepgram({ transcripts: ['First try', 'Second try'], knobs: { fault: 'drop' } });
    const plugin = new deepgram.STT({ apiKey: 'k', baseUrl: fake.baseUrl });
    const errorEvents: unknown[] = [];
    plugin.on('error', (ev) => errorEvents.push(ev.error));
    const stream = plugin.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'first try', 600);

    const { items } = await readUntil(stream, (ev) => ev.type === stt.SpeechEventType.INTERIM_TRANSCRIPT, 5_000, describeEvent);
    expect(items.at(-1)!.alternatives![0]!.text).toBe('First');
    expect(fake.requests[0]).toMatchObject({ fault: 'drop', status: 101 });
    expect(fake.requests[0]!.sent!.map((m) => (m as { type: string }).type)).toEqual(['SpeechStarted', 'Results']);

    await pushSpeech(stream, 'second try', 800);
    await expect(readUntil(stream, () => false, 1_500, describeEvent)).rejects.toThrow(/timed out/);
    expect(fake.requests).toHaveLength(1);
    expect(errorEvents).toHaveLength(0);

    // close() still ends the stream promptly.
    stream.close();
    const rest = await readUntil(stream, () => false, 2_000, describeEvent);
    expect(rest.ended).toBe(true);
  });
});

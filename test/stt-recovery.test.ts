/**
 * ResilientStt around the real deepgram plugin, against the fake Deepgram: a dropped socket is
 * reported and the stream recovers in place; without faults the wrapper changes nothing.
 */
import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { initializeLogger, stt } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ResilientStt } from '../src/pipeline/resilient-stt.js';
import { type FakeDeepgram, startFakeDeepgram } from './fakes/deepgram.js';
import { toAudioFrames } from './fakes/frames.js';
import { speechWithSilence } from './fakes/speech.js';
import { readUntil, waitFor } from './fakes/wait.js';
import { startPipeline, transcript, type Pipeline } from './support/pipeline.js';

const NO_RETRY = { maxRetry: 0, retryIntervalMs: 100, timeoutMs: 5_000 };
// Tighter than the defaults: the test pushes audio faster than real time, so a live fake answers
// in milliseconds, and a 2-core CI machine still has a wide margin.
const FAST = { answerTimeoutMs: 1_500, minSpeechMs: 300 };

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

let fakes: FakeDeepgram[] = [];
let pipeline: Pipeline | undefined;
let untrack: (() => void) | undefined;
afterEach(async () => {
  untrack?.();
  untrack = undefined;
  await pipeline?.close();
  pipeline = undefined;
  await Promise.all(fakes.map((f) => f.close()));
  fakes = [];
});

async function fake(transcripts: string[]): Promise<FakeDeepgram> {
  const f = await startFakeDeepgram({ transcripts });
  fakes.push(f);
  return f;
}

/**
 * Server-side TCP connections accepted from now on, through Node's `net.server.socket` channel, so a
 * test can count a fake's open connections and drop them as a network failure would.
 */
function trackServerSockets(): (f: FakeDeepgram) => Socket[] {
  const sockets = new Set<Socket>();
  const onSocket = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  dc.subscribe('net.server.socket', onSocket);
  untrack = () => dc.unsubscribe('net.server.socket', onSocket);
  return (f) => [...sockets].filter((s) => s.localPort === Number(new URL(f.baseUrl).port));
}

function describeEvent(ev: stt.SpeechEvent): string {
  return `${stt.SpeechEventType[ev.type]}${ev.alternatives?.[0] ? `(${ev.alternatives[0].text})` : ''}`;
}

const isFinal = (ev: stt.SpeechEvent) => ev.type === stt.SpeechEventType.FINAL_TRANSCRIPT;

async function pushSpeech(stream: stt.SpeechStream, text: string, trailMs: number): Promise<void> {
  const audio = await speechWithSilence(text, { sampleRate: 16_000, leadMs: 200, trailMs });
  for (const frame of toAudioFrames(audio, 20)) stream.pushFrame(frame);
}

function resilient(f: FakeDeepgram) {
  const wrapped = new ResilientStt(new deepgram.STT({ apiKey: 'k', baseUrl: f.baseUrl }), FAST);
  const errors: { message: string; recoverable: boolean; at: number }[] = [];
  wrapped.on('error', (ev) => errors.push({ message: ev.error.message, recoverable: ev.recoverable, at: Date.now() }));
  return { wrapped, errors };
}

describe('ResilientStt with the real deepgram plugin', () => {
  it('reports a dropped socket and transcribes the next utterance on a fresh connection', async () => {
    const dg = await fake(['First try', 'Second try']);
    dg.setKnobs({ fault: 'drop', faultTimes: 1 });
    const { wrapped, errors } = resilient(dg);
    const stream = wrapped.stream({ connOptions: NO_RETRY });

    // The fake answers the first interim, then kills the socket.
    await pushSpeech(stream, 'first try', 600);
    const first = await readUntil(stream, (ev) => ev.type === stt.SpeechEventType.INTERIM_TRANSCRIPT, 5_000, describeEvent);
    expect(first.items.at(-1)!.alternatives![0]!.text).toBe('First');
    expect(dg.requests[0]).toMatchObject({ fault: 'drop', status: 101 });

    // The plain plugin would now stay deaf (see fakes-deepgram.test.ts). The wrapper notices the
    // unanswered speech, says so, reconnects and re-sends the utterance.
    await pushSpeech(stream, 'second try', 800);
    const second = await readUntil(stream, isFinal, 10_000, describeEvent);
    const finalAt = Date.now();
    expect(second.items.at(-1)!.alternatives![0]!.text).toBe('Second try');

    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^Deepgram STT stopped answering: .*\(connection dropped\?\); reconnecting$/);
    expect(errors[0]!.recoverable).toBe(true);
    expect(errors[0]!.at).toBeLessThanOrEqual(finalAt);
    expect(dg.requests.map((r) => [r.fault, r.status])).toEqual([
      ['drop', 101],
      [null, 101],
    ]);
    stream.close();
  });

  it('is transparent without faults: same events as the plain plugin, no errors', async () => {
    const text = 'What is the weather like in Paris today?';
    const run = async (stream: stt.SpeechStream) => {
      await pushSpeech(stream, 'what is the weather like in paris today', 1_000);
      const { items } = await readUntil(stream, (ev) => ev.type === stt.SpeechEventType.END_OF_SPEECH, 10_000, describeEvent);
      stream.endInput();
      const rest = await readUntil(stream, () => false, 5_000, describeEvent);
      expect(rest.ended).toBe(true); // ending the input ends the wrapped stream too
      return items
        .filter((ev) => ev.type !== stt.SpeechEventType.RECOGNITION_USAGE)
        .map((ev) => ({ type: ev.type, text: ev.alternatives?.[0]?.text, start: ev.alternatives?.[0]?.startTime, end: ev.alternatives?.[0]?.endTime }));
    };

    const plainFake = await fake([text]);
    const plain = await run(new deepgram.STT({ apiKey: 'k', baseUrl: plainFake.baseUrl }).stream({ connOptions: NO_RETRY }));
    const wrappedFake = await fake([text]);
    const { wrapped, errors } = resilient(wrappedFake);
    const events = await run(wrapped.stream({ connOptions: NO_RETRY }));

    expect(events).toEqual(plain);
    expect(events.find((ev) => ev.type === stt.SpeechEventType.FINAL_TRANSCRIPT)?.text).toBe(text);
    expect(errors).toEqual([]);
    expect(wrappedFake.requests).toHaveLength(1);
    expect(wrappedFake.requests[0]!.messages).toContainEqual({ type: 'CloseStream' });
  });

  it('reports a refused connection (500) as recoverable, so the session stays up, and reconnects', async () => {
    const dg = await fake(['Hello again']);
    dg.setKnobs({ fault: 'http500', faultTimes: 1 });
    const { wrapped, errors } = resilient(dg);
    const stream = wrapped.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'hello again', 800);
    const { items } = await readUntil(stream, isFinal, 10_000, describeEvent);
    expect(items.at(-1)!.alternatives![0]!.text).toBe('Hello again');
    // The plugin's own error, passed on: an unrecoverable STT error would close the AgentSession.
    expect(errors).toEqual([expect.objectContaining({ recoverable: true, message: expect.stringMatching(/500/) })]);
    expect(dg.requests.map((r) => r.status)).toEqual([500, 101]);
    stream.close();
  });

  it('close() closes the inner connections, the dead one and its replacement, and reconnects no more', async () => {
    const connectionsTo = trackServerSockets();
    const dg = await fake(['First try', 'Second try']);
    dg.setKnobs({ fault: 'drop', faultTimes: 1 });
    const { wrapped } = resilient(dg);
    const stream = wrapped.stream({ connOptions: NO_RETRY });
    await pushSpeech(stream, 'first try', 600);
    await readUntil(stream, (ev) => ev.type === stt.SpeechEventType.INTERIM_TRANSCRIPT, 5_000, describeEvent);
    await pushSpeech(stream, 'second try', 800);
    await readUntil(stream, isFinal, 10_000, describeEvent);
    expect(dg.requests).toHaveLength(2);
    expect(connectionsTo(dg)).toHaveLength(1); // the dropped one is gone, the replacement is live

    stream.close();
    const rest = await readUntil(stream, () => false, 2_000, describeEvent);
    expect(rest.ended).toBe(true);
    await waitFor(() => connectionsTo(dg).length === 0, 3_000, 'the inner connection to close');
    await new Promise((resolve) => setTimeout(resolve, FAST.answerTimeoutMs + 500));
    expect(dg.requests).toHaveLength(2);
  });
});

describe('ResilientStt in the AgentSession', () => {
  it('after the Deepgram socket drops, the next question is still answered and the error names the STT', async () => {
    const connectionsTo = trackServerSockets();
    pipeline = await startPipeline({ transcripts: ['First question?', 'Second question?'], reply: 'Here is my answer.' });
    const dg = pipeline.deepgram;
    let turn = pipeline.nextTurn();
    await pipeline.say('First question?');
    await turn;
    await pipeline.replyDone();
    expect(pipeline.errors).toEqual([]);

    // Sever the session's Deepgram socket from the server side, without a close frame, as a network
    // failure would (the plain plugin goes deaf here, as it does after a NET-0001 idle close). The
    // fake's `drop` knob cannot do it: it applies to new connections, and the session's one socket
    // was opened at start and lives on.
    const sockets = connectionsTo(dg);
    expect(sockets).toHaveLength(1);
    for (const socket of sockets) socket.destroy();

    turn = pipeline.nextTurn(20_000);
    await pipeline.say('Second question?');
    await turn;
    await pipeline.replyDone();

    expect(transcript(pipeline.offline.session).slice(-2)).toEqual([
      { role: 'user', text: 'Second question?', interrupted: false },
      { role: 'assistant', text: 'Here is my answer.', interrupted: false },
    ]);
    expect(pipeline.errors).toHaveLength(1);
    expect(pipeline.errors[0]).toMatch(/Deepgram STT stopped answering.*reconnecting/);
    expect(dg.requests.filter((r) => r.endpoint === 'listen')).toHaveLength(2);
  });
});


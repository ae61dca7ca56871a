import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  BinaryKind,
  decodeBinary,
  encodeBinary,
  HEADER_BYTES,
  parseRendererMessage,
  parseWorkerMessage,
  RENDERER_PROTOCOL_VERSION,
  type StartMessage,
} from '../src/avatar/renderer/protocol.js';
import { startFakeRenderer } from './fakes/renderer.js';
import { withTimeout } from './fakes/wait.js';

const SECRET = 'renderer-test-secret-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const START: StartMessage = {
  type: 'start',
  versions: [1],
  session: 'test',
  avatar: { id: 'reference' },
  video: { width: 320, height: 240, fps: 25, format: 'jpeg' },
  clockRate: 24000,
  input: { kind: 'audio', encoding: 'pcm_s16le', channels: 1 },
  idle: 'still',
  frameCredits: 8,
};

/** A raw protocol client: what a renderer developer's worker-side test would do. */
async function rawSession() {
  const { renderer, url } = await startFakeRenderer({ secret: SECRET });
  cleanups.push(() => renderer.close());
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${SECRET}` } });
  const texts: Record<string, unknown>[] = [];
  const binaries: Buffer[] = [];
  let closed: number | undefined;
  ws.on('message', (data: Buffer, isBinary) => (isBinary ? binaries.push(data) : texts.push(JSON.parse(data.toString()))));
  ws.on('close', (code) => (closed = code));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  cleanups.push(async () => ws.terminate());
  const next = async (type: string) => {
    await withTimeout(
      (async () => {
        while (!texts.some((t) => t.type === type)) await new Promise((r) => setTimeout(r, 5));
      })(),
      3000,
      `a ${type} message`,
    );
    return texts.splice(texts.findIndex((t) => t.type === type), 1)[0]!;
  };
  return { ws, texts, binaries, next, closed: () => closed };
}

describe('renderer protocol v1: wire format', () => {
  it('binary messages carry a 24-byte little-endian header', () => {
    const payload = new Uint8Array([1, 2, 3]);
    const bytes = encodeBinary({ kind: BinaryKind.audio, flags: 0, seq: 7, segment: 3, pts: 123_456_789_012 }, payload);
    expect(bytes.length).toBe(HEADER_BYTES + 3);
    expect([...bytes.subarray(0, 4)]).toEqual([1, 0, 24, 0]);
    expect(decodeBinary(bytes)).toEqual({ header: { kind: 1, flags: 0, seq: 7, segment: 3, pts: 123_456_789_012 }, payload: Buffer.from(payload) });
  });

  it('rejects broken binary messages with a reason', () => {
    expect(() => decodeBinary(new Uint8Array(10))).toThrow(/10 bytes is shorter than the 24-byte header/);
    const bad = encodeBinary({ kind: 16, flags: 0, seq: 0, segment: 1, pts: 0 }, new Uint8Array(5));
    bad.writeUInt16LE(32, 2);
    expect(() => decodeBinary(bad)).toThrow(/header declares 32 bytes; protocol v1 headers are 24/);
    bad.writeUInt16LE(24, 2);
    bad.writeUInt32LE(9, 12);
    expect(() => decodeBinary(bad)).toThrow(/declares a 9-byte payload but 5 bytes followed/);
  });

  it('validates JSON messages, naming the message, the field and what is allowed', () => {
    expect(() => parseRendererMessage('{"type":"frame_meta"}')).toThrow(
      /renderer sent an unknown message type "frame_meta"; protocol v1 renderer messages are: ready, input_credit, segment_done, ping, pong, error/,
    );
    expect(() => parseRendererMessage('{"type":"ready","version":1,"video":{"width":"512","height":512,"fps":25,"format":"jpeg"},"inputCreditMs":1000}')).toThrow(
      /renderer sent an invalid ready message: ready\.video\.width: .*number/,
    );
    expect(() => parseRendererMessage('not json')).toThrow(/not JSON: "not json"/);
    expect(() => parseWorkerMessage(JSON.stringify({ ...START, video: { ...START.video, format: 'png' } }))).toThrow(/start\.video\.format/);
    expect(() => parseWorkerMessage(JSON.stringify({ ...START, extra: 1 }))).toThrow(/worker sent an invalid start message/);
    expect(parseWorkerMessage(JSON.stringify(START))).toEqual(START);
  });
});

describe('renderer protocol v1: the reference renderer', () => {
  it('negotiates the version, sends a rest frame, answers pings and renders audio into stamped frames', async () => {
    const s = await rawSession();
    s.ws.send(JSON.stringify(START));
    const ready = await s.next('ready');
    expect(ready).toMatchObject({ type: 'ready', version: RENDERER_PROTOCOL_VERSION, video: START.video, inputCreditMs: 1000 });
    s.ws.send(JSON.stringify({ type: 'ping', id: 42 }));
    expect(await s.next('pong')).toEqual({ type: 'pong', id: 42 });
    // 100 ms of audio = 2.5 frames: two whole frames now, the last half on segment_end.
    const pcm = new Int16Array(2400).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
    s.ws.send(encodeBinary({ kind: BinaryKind.audio, flags: 0, seq: 0, segment: 1, pts: 48_000 }, new Uint8Array(pcm.buffer)));
    s.ws.send(JSON.stringify({ type: 'segment_end', segment: 1 }));
    expect(await s.next('segment_done')).toEqual({ type: 'segment_done', segment: 1, frames: 3 });
    const frames = s.binaries.map((b) => decodeBinary(b).header);
    expect(frames[0]).toMatchObject({ kind: BinaryKind.video, flags: 1, segment: 0 }); // the rest pose, idle
    expect(frames.filter((f) => f.segment === 1).map((f) => f.pts)).toEqual([48_000, 48_960, 49_920]);
    expect(await s.next('input_credit')).toEqual({ type: 'input_credit', ms: 100 });
  });

  it('answers an unknown message with a clear, non-fatal error and keeps the session', async () => {
    const s = await rawSession();
    s.ws.send(JSON.stringify(START));
    await s.next('ready');
    s.ws.send(JSON.stringify({ type: 'clear_buffer' }));
    expect(await s.next('error')).toMatchObject({ code: 'bad_message', fatal: false, message: expect.stringMatching(/unknown message type "clear_buffer".*start, segment_end, interrupt, frame_credit, ping, pong, error/) });
    s.ws.send(new Uint8Array(3));
    expect(await s.next('error')).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/shorter than the 24-byte header/) });
    s.ws.send(encodeBinary({ kind: BinaryKind.blendshapes, flags: 0, seq: 1, segment: 1, pts: 0 }, new Uint8Array(8)));
    expect(await s.next('error')).toMatchObject({ message: 'blendshapes sent to a session started with audio input' });
    s.ws.send(JSON.stringify({ type: 'ping', id: 1 }));
    expect(await s.next('pong')).toEqual({ type: 'pong', id: 1 });
  });

  it('refuses a bad start with the field at fault, and a version it does not speak', async () => {
    const a = await rawSession();
    const { video: _video, ...noVideo } = START;
    a.ws.send(JSON.stringify(noVideo));
    expect(await a.next('error')).toMatchObject({ code: 'bad_start', fatal: true, message: expect.stringMatching(/invalid start message: start\.video/) });
    const b = await rawSession();
    b.ws.send(JSON.stringify({ ...START, versions: [7, 8] }));
    expect(await b.next('error')).toMatchObject({ code: 'unsupported_version', fatal: true, message: 'this renderer speaks protocol v1; the worker offered v7, v8' });
    const c = await rawSession();
    c.ws.send(JSON.stringify({ type: 'frame_credit', frames: 4 }));
    expect(await c.next('error')).toMatchObject({ fatal: true, message: 'frame_credit before start; send start first' });
  });

  it('refuses a client without the bearer secret at the upgrade (HTTP 401)', async () => {
    const { renderer, url } = await startFakeRenderer({ secret: SECRET });
    cleanups.push(() => renderer.close());
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization: 'Bearer wrong-secret-wrong-secret' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(status).toBe(401);
  });
});

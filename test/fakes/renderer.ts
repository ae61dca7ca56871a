/**
 * Fake GPU renderers: the reference renderer (the real protocol, the built-in face) with knobs
 * that make it slow, jittery, bursty, lossy, stalling, disconnecting or malformed, and a stamp in
 * every frame that says which audio it was rendered for, so a test can read, from the pixels a
 * viewer would see, how far the lips are from the sound.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { RgbaFrame } from '../../src/avatar/frames/frame-source.js';
import type { RecordedFrame } from '../../src/avatar/local/memory-sink.js';
import { ReferenceRenderer, type ReferenceRendererOptions, type RendererSession } from '../../src/avatar/renderer/reference-renderer.js';
import { encodeBinary, type BinaryHeader } from '../../src/avatar/renderer/protocol.js';
import { KnobStore, type FaultKnobs } from './knobs.js';
import { sleep } from './net.js';

export interface RendererKnobs extends FaultKnobs {
  /**
   * `fault` per connection: `http500` refuses the upgrade, `hang` accepts and never answers the
   * start, `drop` closes the socket as soon as it opens.
   */
  /** Milliseconds added before each frame, serialised: > 1000/fps makes the renderer slower than real time. */
  frameDelayMs?: number;
  /** A random 0..jitterMs added to each frame's send time (order kept; throughput unchanged). */
  jitterMs?: number;
  /** Frames held and sent this many at a time (a model that renders in windows). */
  burst?: number;
  /** Every Nth speech frame is never sent. */
  dropEvery?: number;
  /** After this many speech frames on a connection, the socket is destroyed (mid-sentence)... */
  disconnectAfterFrames?: number;
  /** ...on this many connections in all (default 1: the reconnect then holds). */
  disconnectTimes?: number;
  /** After this many speech frames on a connection, nothing is sent for `stallMs`. */
  stallAfterFrames?: number;
  stallMs?: number;
  /** Every `malformedEvery`th speech frame is broken this way. */
  malformed?: 'header' | 'payload' | 'json';
  malformedEvery?: number;
  /** Each frame is sent this many extra times, ignoring credits (a renderer that floods). */
  flood?: number;
}

interface ConnectionState {
  speechFrames: number;
  /** When the previous frame was (or will be) sent: jittered frames keep their order. */
  lastSendAt: number;
  chain: Promise<void>;
  held: (() => void)[];
  burstTimer?: NodeJS.Timeout;
}

export class FakeRenderer extends ReferenceRenderer {
  readonly knobs: KnobStore<RendererKnobs>;
  /** Connections accepted (websocket upgraded), refused or not. */
  connections = 0;
  /** Mid-sentence disconnects done. */
  disconnects = 0;
  private readonly state = new WeakMap<RendererSession, ConnectionState>();
  private readonly hung = new Set<WebSocket>();

  constructor(opts: ReferenceRendererOptions & { knobs?: RendererKnobs } = {}) {
    super(opts);
    this.knobs = new KnobStore<RendererKnobs>(opts.knobs ?? {});
  }

  /** Frames sent by all sessions (idle included). */
  get framesSent(): number {
    let n = 0;
    for (const s of this.sessions) n += s.framesSent;
    return n;
  }

  override async close(): Promise<void> {
    for (const ws of this.hung) ws.terminate();
    await super.close();
  }

  protected override checkUpgrade(req: IncomingMessage): { status: number; message: string } | undefined {
    const refusal = super.checkUpgrade(req);
    if (refusal) return refusal;
    this.connections++;
    const fault = this.knobs.takeFault();
    if (fault === 'http500') return { status: 500, message: 'renderer crashed (fake)' };
    if (fault) (req as IncomingMessage & { fakeFault?: string }).fakeFault = fault;
    return undefined;
  }

  protected override accept(ws: WebSocket, req: IncomingMessage): void {
    const fault = (req as IncomingMessage & { fakeFault?: string }).fakeFault;
    if (fault === 'drop') return void ws.terminate();
    if (fault === 'hang') {
      this.hung.add(ws);
      return;
    }
    super.accept(ws, req);
  }

  override decorate(session: RendererSession, frame: RgbaFrame, info: { pts: number; segment: number; idle: boolean }): void {
    const start = session.start!;
    stampFrame(frame, info.idle ? IDLE_STAMP : Math.round((info.pts * start.video.fps) / start.clockRate) & 0xffff);
  }

  override async deliver(session: RendererSession, header: BinaryHeader, payload: Uint8Array): Promise<void> {
    const k = this.knobs.current;
    let st = this.state.get(session);
    if (!st) {
      st = { speechFrames: 0, lastSendAt: 0, chain: Promise.resolve(), held: [] };
      this.state.set(session, st);
    }
    const speech = header.segment !== 0;
    if (speech) st.speechFrames++;
    const n = st.speechFrames;
    if (speech && k.disconnectAfterFrames && n === k.disconnectAfterFrames && this.disconnects < (k.disconnectTimes ?? 1)) {
      this.disconnects++;
      session.ws.terminate();
      return;
    }
    if (speech && k.stallAfterFrames && n === k.stallAfterFrames) await sleep(k.stallMs ?? 2000);
    if (k.frameDelayMs) await sleep(k.frameDelayMs);
    if (speech && k.dropEvery && n % k.dropEvery === 0) return session.refundCredit();

    let bytes = encodeBinary(header, payload);
    if (speech && k.malformed && k.malformedEvery && n % k.malformedEvery === 0) {
      if (k.malformed === 'header') bytes.writeUInt32LE(payload.byteLength + 7, 12);
      if (k.malformed === 'payload') bytes = Buffer.concat([bytes.subarray(0, 24), Buffer.alloc(payload.byteLength, 0x5a)]);
      if (k.malformed === 'json') session.ws.send(JSON.stringify({ type: 'frame_meta', note: 'not in protocol v1' }));
    }
    const copies = 1 + (k.flood ?? 0);
    const send = () => {
      for (let i = 0; i < copies; i++) if (session.ws.readyState === session.ws.OPEN) session.ws.send(bytes);
    };

    if (k.burst && k.burst > 1) {
      // Held until `burst` frames are ready (or 300 ms pass, so a reply's tail is not stuck).
      st.held.push(send);
      const release = () => {
        clearTimeout(st.burstTimer);
        st.burstTimer = undefined;
        for (const s of st.held.splice(0)) s();
      };
      if (st.held.length >= k.burst) release();
      else st.burstTimer ??= setTimeout(release, 300);
      return;
    }
    if (k.jitterMs) {
      const at = Math.max(st.lastSendAt, Date.now() + Math.random() * k.jitterMs);
      st.lastSendAt = at;
      st.chain = st.chain.then(() => sleep(at - Date.now())).then(send);
      return;
    }
    send();
  }
}

// ---------------------------------------------------------------- the stamp

/** The code of an idle frame. */
export const IDLE_STAMP = 0xffff;
const BLOCK = 16;
const BITS = 16;

/**
 * Writes `code` into the top rows of a frame: a white guard block, 16 bit blocks (white = 1),
 * a black guard block; 16-pixel blocks survive JPEG and the memory sink's 4x luma thumbnail.
 */
export function stampFrame(frame: RgbaFrame, code: number): void {
  if (frame.width < (BITS + 2) * BLOCK) throw new Error(`the stamp needs frames at least ${(BITS + 2) * BLOCK} pixels wide`);
  const blocks = [1, ...Array.from({ length: BITS }, (_, i) => (code >> (BITS - 1 - i)) & 1), 0];
  for (let b = 0; b < blocks.length; b++) {
    const v = blocks[b] ? 255 : 0;
    for (let y = 0; y < BLOCK; y++) {
      for (let x = b * BLOCK; x < (b + 1) * BLOCK; x++) {
        const i = (y * frame.width + x) * 4;
        frame.data[i] = frame.data[i + 1] = frame.data[i + 2] = v;
      }
    }
  }
}

/** Reads the stamp from a recorded frame's luma thumbnail; undefined when there is none (blank frame). */
export function readStamp(frame: RecordedFrame, width: number, scale: number): number | undefined {
  const w = Math.floor(width / scale);
  const at = (b: number) => frame.luma[Math.floor(BLOCK / 2 / scale) * w + Math.floor((b * BLOCK + BLOCK / 2) / scale)]! > 128;
  if (!at(0) || at(BITS + 1)) return undefined;
  let code = 0;
  for (let i = 0; i < BITS; i++) code = (code << 1) | (at(1 + i) ? 1 : 0);
  return code;
}

export async function startFakeRenderer(opts: ReferenceRendererOptions & { knobs?: RendererKnobs } = {}): Promise<{ renderer: FakeRenderer; url: string }> {
  const renderer = new FakeRenderer(opts);
  const url = await renderer.listen(0);
  return { renderer, url };
}

// ---------------------------------------------------------------- measuring lip sync

export interface LipSync {
  /** Recorded frames that played speech. */
  speechFrames: number;
  /** Speech frames showing a picture not shown on the frame before (a new renderer frame). */
  fresh: number;
  /** Speech frames repeating the previous picture (renderer behind or stalled). */
  repeats: number;
  /** Speech frames with no stamp or an idle one. */
  unstamped: number;
  /** For each fresh frame: its stamp minus the video frame of the audio it was published with, in frames. */
  freshErrors: number[];
  /** Largest |error| of a fresh frame, in milliseconds. */
  maxFreshErrorMs: number;
}

/**
 * What a viewer saw: for every recorded frame that played part of `speech`, which audio frame the
 * picture was rendered for (from its stamp) against which audio frame was heard with it (found by
 * locating the tick's samples in `speech`). `startPts` is the reply's start on the audio clock.
 */
export function measureLipSync(sink: { frames: RecordedFrame[]; audio: Int16Array[]; thumbnailScale: number; format?: { width: number; fps: number; sampleRate: number } }, speech: Int16Array, startPts = 0): LipSync {
  const { width, fps, sampleRate } = sink.format!;
  const out: LipSync = { speechFrames: 0, fresh: 0, repeats: 0, unstamped: 0, freshErrors: [], maxFreshErrorMs: 0 };
  let hint = 0;
  let previous: number | undefined;
  for (const f of sink.frames) {
    if (!f.speech) {
      previous = undefined;
      continue;
    }
    const audio = sink.audio[f.tick]!;
    const offset = locate(speech, audio, hint);
    if (offset === undefined) continue;
    hint = offset + audio.length;
    out.speechFrames++;
    const stamp = readStamp(f, width, sink.thumbnailScale);
    if (stamp === undefined || stamp === IDLE_STAMP) {
      out.unstamped++;
      previous = stamp;
      continue;
    }
    if (stamp === previous) {
      out.repeats++;
      continue;
    }
    previous = stamp;
    out.fresh++;
    const heardFrame = ((startPts + offset) * fps) / sampleRate;
    const error = stamp - heardFrame;
    out.freshErrors.push(error);
    out.maxFreshErrorMs = Math.max(out.maxFreshErrorMs, (Math.abs(error) * 1000) / fps);
  }
  return out;
}

/** Where `tick` (zero-padded at the end of a reply) sits in `speech`; tries `hint` first. */
function locate(speech: Int16Array, tick: Int16Array, hint: number): number | undefined {
  const matches = (at: number) => {
    const n = Math.min(tick.length, speech.length - at);
    if (n <= 0) return false;
    for (let i = 0; i < n; i++) if (speech[at + i] !== tick[i]) return false;
    for (let i = n; i < tick.length; i++) if (tick[i] !== 0) return false;
    return true;
  };
  if (matches(hint)) return hint;
  const first = tick.findIndex((v) => v !== 0);
  if (first < 0) return undefined;
  for (let at = 0; at + first < speech.length; at++) if (speech[at + first] === tick[first] && matches(at)) return at;
  return undefined;
}

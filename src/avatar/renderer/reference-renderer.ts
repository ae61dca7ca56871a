import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RgbaFrame } from '../frames/frame-source.js';
import { createBuiltinFace, type BuiltinFace } from '../frames/builtin/index.js';
import { createVisemeEngine, MOUTH_BLENDSHAPES, NEUTRAL_MOUTH, type Blendshapes, type VisemeEngine } from '../visemes/index.js';
import { encodeFrame } from './frame-decoder.js';
import {
  audioPayloadLimit,
  BinaryFlags,
  BinaryKind,
  decodeBinary,
  encodeBinary,
  maxMessageBytes,
  ProtocolError,
  parseWorkerMessage,
  RENDERER_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type BinaryHeader,
  type ErrorCode,
  type RendererMessage,
  type StartMessage,
} from './protocol.js';

export interface ReferenceRendererOptions {
  /** Bearer secret clients must present; without one, any client is served (say so in the log). */
  secret?: string;
  /** Path of the websocket endpoint. */
  path?: string;
  /** Avatar ids it accepts; unset: any id (or image) gets the built-in face. */
  avatars?: readonly string[];
  maxSessions?: number;
  /** Input the worker may send ahead, in audio milliseconds (its credits). */
  inputCreditMs?: number;
  jpegQuality?: number;
  logger?: Logger;
}

export const REFERENCE_RENDERER_PATH = '/v1/render';

/**
 * The renderer protocol's reference server: a renderer with no GPU that draws the built-in 2D face,
 * its mouth driven by the worker's audio (through our viseme engine) or by the blendshapes the
 * worker sends. It shows a model server what to implement; docs/renderer-python.md is the same in
 * Python. Test fakes extend it (`deliver`, `decorate`) to be slow, bursty or broken.
 */
export class ReferenceRenderer {
  readonly sessions = new Set<RendererSession>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<Socket>();
  readonly options: Required<Omit<ReferenceRendererOptions, 'secret' | 'avatars' | 'logger'>> & Pick<ReferenceRendererOptions, 'secret' | 'avatars' | 'logger'>;

  constructor(opts: ReferenceRendererOptions = {}) {
    this.options = { path: REFERENCE_RENDERER_PATH, maxSessions: 4, inputCreditMs: 1000, jpegQuality: 85, ...opts };
  }

  /** Listen on host:port (port 0: any free port); resolves with the ws:// URL to put in a profile. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' });
      res.end(`renderer protocol v${RENDERER_PROTOCOL_VERSION}: open a websocket on ${this.options.path}\n`);
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: maxMessageBytes({ width: 1920, height: 1920 }) });
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      const refusal = this.checkUpgrade(req);
      if (refusal) return refuse(socket, refusal.status, refusal.message);
      wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.wss = wss;
    const addr = server.address() as AddressInfo;
    if (!this.options.secret) this.options.logger?.warn('no AVATAR_RENDERER_SECRET set: any client may use this renderer');
    return `ws://${host.includes(':') ? `[${host}]` : host}:${addr.port}${this.options.path}`;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.end();
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    this.wss?.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Auth and path; an HTTP refusal when the upgrade must not go ahead. */
  protected checkUpgrade(req: IncomingMessage): { status: number; message: string } | undefined {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== this.options.path) return { status: 404, message: `no renderer at ${path}; the endpoint is ${this.options.path}` };
    const secret = this.options.secret;
    if (secret) {
      const got = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const a = Buffer.from(got);
      const b = Buffer.from(secret);
      if (a.length !== b.length || !timingSafeEqual(a, b)) return { status: 401, message: 'missing or wrong bearer secret' };
    }
    return undefined;
  }

  protected accept(ws: WebSocket, _req: IncomingMessage): void {
    const session = new RendererSession(this, ws);
    if (this.sessions.size >= this.options.maxSessions) {
      session.fail('busy', `this renderer serves at most ${this.options.maxSessions} sessions at once`);
      return;
    }
    this.sessions.add(session);
    ws.once('close', () => {
      session.end();
      this.sessions.delete(session);
    });
  }

  /** Sends a frame to the worker. Fakes override it to delay, drop, reorder or corrupt frames. */
  async deliver(session: RendererSession, header: BinaryHeader, payload: Uint8Array): Promise<void> {
    session.sendBinary(header, payload);
  }

  /** Draws on a frame before it is encoded (fakes stamp the pts into it). */
  decorate(_session: RendererSession, _frame: RgbaFrame, _info: { pts: number; segment: number; idle: boolean }): void {}
}

type Work = { kind: 'audio'; segment: number; pts: number; pcm: Int16Array } | { kind: 'blendshapes'; segment: number; pts: number; weights: Blendshapes; samples: number } | { kind: 'end'; segment: number };

/** One worker's session: start/ready, then input in, frames out within the credits. */
export class RendererSession {
  start: StartMessage | undefined;
  /** Frames sent, speech and idle, for tests. */
  framesSent = 0;
  /** The most input ever waiting to be rendered, in audio milliseconds (the worker's credits bound it). */
  maxQueuedInputMs = 0;
  private face: BuiltinFace | undefined;
  private visemes: VisemeEngine | undefined;
  private queue: Work[] = [];
  private wake: (() => void) | undefined;
  private frameCredits = 0;
  private creditWaiters: (() => void)[] = [];
  private interruptedUpTo = 0;
  /** Per reply: pts of its first audio, frames made, audio not yet a whole frame. */
  private segments = new Map<number, { startPts: number; frames: number; carry: Int16Array }>();
  private consumedSamples = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private busy = false;
  private seq = 0;
  private readonly bornAt = performance.now();
  ended = false;

  constructor(
    readonly renderer: ReferenceRenderer,
    readonly ws: WebSocket,
  ) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', () => this.end());
    this.startTimer = setTimeout(() => this.fail('bad_start', 'no start message within 10 s'), 10_000);
  }

  get log(): Logger | undefined {
    return this.renderer.options.logger;
  }

  sendJson(msg: RendererMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  sendBinary(header: BinaryHeader, payload: Uint8Array): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(encodeBinary(header, payload));
  }

  /** A frame the renderer made but chose not to send: its credit is still the renderer's. */
  refundCredit(): void {
    this.frameCredits++;
    for (const w of this.creditWaiters.splice(0)) w();
  }

  /** Tell the worker why, then close. */
  fail(code: ErrorCode, message: string): void {
    this.sendJson({ type: 'error', code, message, fatal: true });
    this.ws.close(1008, code);
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.startTimer);
    clearInterval(this.idleTimer);
    this.queue = [];
    this.wake?.();
    for (const w of this.creditWaiters) w();
    this.creditWaiters = [];
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.ended) return;
    try {
      if (isBinary) return this.onBinary(data);
      const msg = parseWorkerMessage(data.toString());
      if (msg.type === 'start') return this.onStart(msg);
      if (!this.start) throw new ProtocolError('bad_message', `${msg.type} before start; send start first`);
      switch (msg.type) {
        case 'segment_end':
          return this.enqueue({ kind: 'end', segment: msg.segment });
        case 'interrupt':
          return this.onInterrupt(msg.segment);
        case 'frame_credit':
          this.frameCredits += msg.frames;
          for (const w of this.creditWaiters.splice(0)) w();
          return;
        case 'ping':
          return this.sendJson({ type: 'pong', id: msg.id });
        case 'pong':
          return;
        case 'error':
          this.log?.warn({ code: msg.code, message: msg.message }, 'worker reported an error');
          return;
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (!this.start) return this.fail(err.code, err.message);
      this.log?.warn({ err: err.message }, 'bad message from the worker');
      this.sendJson({ type: 'error', code: err.code, message: err.message, fatal: false });
    }
  }

  private onStart(msg: StartMessage): void {
    if (this.start) throw new ProtocolError('bad_message', 'a second start on one session; open a new websocket for a new session');
    clearTimeout(this.startTimer);
    const version = Math.max(...msg.versions.filter((v) => (SUPPORTED_PROTOCOL_VERSIONS as readonly number[]).includes(v)));
    if (!Number.isFinite(version)) return this.fail('unsupported_version', `this renderer speaks protocol v${SUPPORTED_PROTOCOL_VERSIONS.join(', v')}; the worker offered v${msg.versions.join(', v')}`);
    const known = this.renderer.options.avatars;
    if (known && msg.avatar.id && !known.includes(msg.avatar.id)) return this.fail('unknown_avatar', `no avatar ${msg.avatar.id}; this renderer has: ${known.join(', ')}`);
    if (msg.input.kind === 'blendshapes' && !msg.input.names.some((n) => (MOUTH_BLENDSHAPES as readonly string[]).includes(n))) {
      return this.fail('bad_start', `none of the blendshapes [${msg.input.names.slice(0, 5).join(', ')}…] drive this face; send ARKit mouth names (jawOpen, mouthFunnel, …)`);
    }
    this.start = msg;
    this.frameCredits = msg.frameCredits;
    const seed = [...(msg.avatar.id ?? 'image')].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 1000;
    this.face = createBuiltinFace({ width: msg.video.width, height: msg.video.height, seed });
    this.visemes = createVisemeEngine({ fps: msg.video.fps });
    this.sendJson({ type: 'ready', version, video: msg.video, inputCreditMs: this.renderer.options.inputCreditMs, renderer: { name: 'reference renderer (built-in face)' } });
    this.log?.info({ session: msg.session, video: msg.video, input: msg.input.kind, idle: msg.idle }, 'renderer session started');
    // The rest pose first, so the worker has a closed-mouth picture before anything is said.
    this.queueIdleFrame();
    if (msg.idle === 'stream') this.idleTimer = setInterval(() => this.queueIdleFrame(), 1000 / msg.video.fps);
    void this.run();
  }

  private onBinary(data: Buffer): void {
    const start = this.start;
    if (!start) throw new ProtocolError('bad_message', 'binary data before start; send start first');
    const { header, payload } = decodeBinary(data);
    if (header.segment === 0) throw new ProtocolError('bad_message', 'input needs a segment id of 1 or more');
    const samplesPerFrame = start.clockRate / start.video.fps;
    if (header.kind === BinaryKind.audio) {
      if (start.input.kind !== 'audio') throw new ProtocolError('bad_message', 'audio sent to a session started with blendshape input');
      if (payload.byteLength % 2 || payload.byteLength > audioPayloadLimit(start.clockRate)) throw new ProtocolError('bad_message', `audio payload of ${payload.byteLength} bytes; PCM16 up to 1 s (${audioPayloadLimit(start.clockRate)} bytes)`);
      const pcm = new Int16Array(payload.byteLength / 2);
      Buffer.from(pcm.buffer).set(payload);
      return this.enqueue({ kind: 'audio', segment: header.segment, pts: header.pts, pcm });
    }
    if (header.kind === BinaryKind.blendshapes) {
      if (start.input.kind !== 'blendshapes') throw new ProtocolError('bad_message', 'blendshapes sent to a session started with audio input');
      const names = start.input.names;
      if (payload.byteLength !== names.length * 4) throw new ProtocolError('bad_message', `blendshape payload of ${payload.byteLength} bytes; ${names.length} names need ${names.length * 4}`);
      const values = new Float32Array(names.length);
      Buffer.from(values.buffer).set(payload);
      const weights: Blendshapes = {};
      names.forEach((n, i) => ((weights as Record<string, number>)[n] = values[i]!));
      return this.enqueue({ kind: 'blendshapes', segment: header.segment, pts: header.pts, weights, samples: Math.round(samplesPerFrame) });
    }
    throw new ProtocolError('bad_message', `binary kind ${header.kind} is not worker input (audio ${BinaryKind.audio}, blendshapes ${BinaryKind.blendshapes})`);
  }

  private enqueue(work: Work): void {
    if (work.segment <= this.interruptedUpTo) {
      if (work.kind !== 'end') this.creditInput(work.kind === 'audio' ? work.pcm.length : work.samples);
      return;
    }
    this.queue.push(work);
    const samples = this.queue.reduce((n, w) => n + (w.kind === 'audio' ? w.pcm.length : w.kind === 'blendshapes' ? w.samples : 0), 0);
    this.maxQueuedInputMs = Math.max(this.maxQueuedInputMs, (samples * 1000) / this.start!.clockRate);
    this.wake?.();
  }

  private onInterrupt(segment: number): void {
    this.interruptedUpTo = Math.max(this.interruptedUpTo, segment);
    const dropped = this.queue.filter((w) => w.segment <= segment);
    this.queue = this.queue.filter((w) => w.segment > segment);
    for (const w of dropped) if (w.kind !== 'end') this.creditInput(w.kind === 'audio' ? w.pcm.length : w.samples);
    for (const id of [...this.segments.keys()]) if (id <= segment) this.segments.delete(id);
    this.visemes?.reset();
  }

  /** The render loop: one piece of work at a time, each frame sent within the frame credits. */
  private async run(): Promise<void> {
    while (!this.ended) {
      const work = this.queue.shift();
      if (!work) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      this.busy = true;
      try {
        await this.process(work);
      } catch (err) {
        this.log?.error({ err }, 'render failed');
        this.sendJson({ type: 'error', code: 'internal', message: `render failed: ${(err as Error).message}`, fatal: false });
      } finally {
        this.busy = false;
      }
    }
  }

  private async process(work: Work): Promise<void> {
    const start = this.start!;
    const rate = start.clockRate;
    const fps = start.video.fps;
    if (work.kind === 'blendshapes') {
      this.segmentState(work.segment, work.pts).frames++;
      await this.renderFrame(work.segment, work.pts, work.weights, true);
      this.creditInput(work.samples);
      return;
    }
    if (work.kind === 'end') {
      const seg = this.segments.get(work.segment);
      if (seg && seg.carry.length > 0 && start.input.kind === 'audio') {
        // The last, partial frame of the reply.
        const pts = seg.startPts + Math.floor((seg.frames * rate) / fps);
        const mouth = this.visemes!.frame(seg.carry, rate);
        seg.frames++;
        seg.carry = new Int16Array(0);
        await this.renderFrame(work.segment, pts, mouth, true);
      }
      if (work.segment > this.interruptedUpTo) this.sendJson({ type: 'segment_done', segment: work.segment, frames: seg?.frames ?? 0 });
      this.segments.delete(work.segment);
      this.visemes?.reset();
      // Listening again: the closed mouth, for a worker that repeats one rest picture.
      if (start.idle === 'still') this.queueIdleFrame();
      return;
    }
    const seg = this.segmentState(work.segment, work.pts);
    let pcm = seg.carry.length ? concat(seg.carry, work.pcm) : work.pcm;
    for (;;) {
      const need = Math.floor(((seg.frames + 1) * rate) / fps) - Math.floor((seg.frames * rate) / fps);
      if (pcm.length < need || work.segment <= this.interruptedUpTo) break;
      const pts = seg.startPts + Math.floor((seg.frames * rate) / fps);
      const mouth = this.visemes!.frame(pcm.subarray(0, need), rate);
      seg.frames++;
      pcm = pcm.subarray(need);
      await this.renderFrame(work.segment, pts, mouth, true);
    }
    seg.carry = pcm.slice();
    this.creditInput(work.pcm.length);
  }

  private segmentState(segment: number, pts: number) {
    let seg = this.segments.get(segment);
    if (!seg) {
      seg = { startPts: pts, frames: 0, carry: new Int16Array(0) };
      this.segments.set(segment, seg);
    }
    return seg;
  }

  private queueIdleFrame(): void {
    // Idle motion only while nothing is being said, and only within the credits.
    if (this.ended || this.busy || this.queue.length > 0 || this.segments.size > 0 || this.frameCredits <= 0) return;
    this.busy = true;
    void this.renderFrame(0, 0, NEUTRAL_MOUTH, false)
      .catch((err: unknown) => this.log?.error({ err }, 'idle render failed'))
      .finally(() => (this.busy = false));
  }

  private async renderFrame(segment: number, pts: number, mouth: Blendshapes, speaking: boolean): Promise<void> {
    while (this.frameCredits <= 0 && !this.ended) await new Promise<void>((r) => this.creditWaiters.push(r));
    if (this.ended || (segment !== 0 && segment <= this.interruptedUpTo)) return;
    this.frameCredits--;
    const start = this.start!;
    const timeMs = performance.now() - this.bornAt;
    const rendered = this.face!.render({ timeMs, mouth, speaking });
    const frame = { width: rendered.width, height: rendered.height, data: rendered.data.slice() };
    this.renderer.decorate(this, frame, { pts, segment, idle: segment === 0 });
    const payload = await encodeFrame(frame, start.video.format, this.renderer.options.jpegQuality);
    if (segment !== 0 && segment <= this.interruptedUpTo) {
      this.frameCredits++; // never sent
      return;
    }
    this.framesSent++;
    await this.renderer.deliver(this, { kind: BinaryKind.video, flags: segment === 0 ? BinaryFlags.idle : 0, seq: this.seq++, segment, pts }, payload);
  }

  private creditInput(samples: number): void {
    this.consumedSamples += samples;
    const ms = Math.floor((this.consumedSamples * 1000) / this.start!.clockRate);
    if (ms < 40) return;
    this.consumedSamples -= Math.round((ms * this.start!.clockRate) / 1000);
    this.sendJson({ type: 'input_credit', ms });
  }
}

function concat(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  const reason = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

import type { Logger } from 'pino';
import type { TimedFrame } from '../local/av-synchronizer.js';
import { RendererConnection, RendererConnectError, displayUrl, type RendererConnectOptions } from './connection.js';
import { decodeFrame } from './frame-decoder.js';
import { BinaryFlags, BinaryKind, type BinaryHeader, type ParsedRendererMessage, type ProtocolError } from './protocol.js';

export interface ReconnectPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface RendererClientOptions extends Omit<RendererConnectOptions, 'logger'> {
  logger: Logger;
  reconnect: ReconnectPolicy;
  /** Frames the renderer may have in flight or queued here (its credits). */
  frameWindow: number;
  /** A decoded frame, in the order the renderer sent them. */
  onFrame(frame: TimedFrame): void;
  /** The renderer sent every frame of a reply. */
  onSegmentDone(segment: number): void;
  /** How far playout has got: input behind it is not worth rendering any more. */
  playhead(): { segment: number; pts: number } | undefined;
  /** Frames from earlier connections still held by the consumer (their release must not grant credits twice). */
  heldFrames(): number;
}

export interface RendererClientStats {
  reconnects: number;
  /** Frames that were not pictures of the agreed format and size. */
  badFrames: number;
  /** Messages that broke the protocol (malformed, unknown type, beyond credits). */
  protocolErrors: number;
  /** Frames beyond the credits the worker granted (dropped). */
  overCredit: number;
  /** Input messages never sent because playout had already passed them (renderer too slow). */
  inputSkipped: number;
  inputSent: number;
  framesReceived: number;
}

type OutItem = { kind: 'audio' | 'blendshapes'; segment: number; pts: number; samples: number; payload: Uint8Array } | { kind: 'end'; segment: number };

/**
 * The worker's end of the renderer protocol for one avatar session, across reconnects: sends the
 * reply's input (audio or blendshapes) within the renderer's input credits, grants frame credits
 * as frames leave the worker's queue, decodes frames in order, and when the link breaks
 * reconnects with backoff and re-sends what playout still needs. When the renderer stays gone,
 * `lost` resolves with why; nothing here ever throws into the call.
 */
export class RendererClient {
  readonly stats: RendererClientStats = { reconnects: 0, badFrames: 0, protocolErrors: 0, overCredit: 0, inputSkipped: 0, inputSent: 0, framesReceived: 0 };
  readonly lost: Promise<string>;

  private resolveLost!: (reason: string) => void;
  private conn: RendererConnection | undefined;
  private readonly log: Logger;
  private readonly where: string;
  /** Input of replies not yet finished, for re-sending after a reconnect. */
  private history: OutItem[] = [];
  /** Not yet sent on the current connection. */
  private pending: OutItem[] = [];
  private inputCreditSamples = 0;
  /** Frames the renderer may still send on this connection. */
  private frameAllowance = 0;
  private grantPending = 0;
  private grantScheduled = false;
  /** Releases of frames from an earlier connection: absorbed, not granted. */
  private owedReleases = 0;
  private delivery: Promise<void> = Promise.resolve();
  private consecutiveBad = 0;
  private closed = false;
  private isLost = false;
  private lastErrorLogAt = 0;

  constructor(private readonly o: RendererClientOptions) {
    this.log = o.logger;
    this.where = `renderer at ${displayUrl(o.url)}`;
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
  }

  /** First connection; throws RendererConnectError (with the reason and the fix) if it fails. */
  async connect(): Promise<void> {
    this.use(await this.open());
    const r = this.conn!.ready;
    this.log.info({ renderer: this.where, version: r.version, name: r.renderer?.name, model: r.renderer?.model }, 'renderer session started');
  }

  get connected(): boolean {
    return Boolean(this.conn?.open);
  }

  sendInput(kind: 'audio' | 'blendshapes', segment: number, pts: number, samples: number, payload: Uint8Array): void {
    if (this.closed) return;
    const item: OutItem = { kind, segment, pts, samples, payload };
    this.history.push(item);
    this.pending.push(item);
    this.pump();
  }

  endSegment(segment: number): void {
    if (this.closed) return;
    const item: OutItem = { kind: 'end', segment };
    this.history.push(item);
    this.pending.push(item);
    this.pump();
  }

  /** Drop everything of replies up to `segment`, here and at the renderer. */
  interrupt(segment: number): void {
    this.forget(segment);
    this.conn?.sendJson({ type: 'interrupt', segment });
  }

  /** The reply has played out: its input need never be re-sent. */
  segmentFinished(segment: number): void {
    this.forget(segment);
  }

  /** `count` frames left the worker's queue: the renderer may send that many more. */
  releaseFrames(count: number): void {
    const absorbed = Math.min(this.owedReleases, count);
    this.owedReleases -= absorbed;
    this.grant(count - absorbed);
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
    this.history = [];
    this.pending = [];
  }

  private forget(segment: number): void {
    this.history = this.history.filter((i) => i.segment > segment);
    this.pending = this.pending.filter((i) => i.segment > segment);
  }

  private async open(): Promise<RendererConnection> {
    return RendererConnection.open({ ...this.o, logger: this.log });
  }

  private use(conn: RendererConnection): void {
    this.conn = conn;
    this.inputCreditSamples = Math.round((conn.ready.inputCreditMs * this.o.start.clockRate) / 1000);
    this.frameAllowance = this.o.start.frameCredits;
    this.grantPending = 0;
    this.consecutiveBad = 0;
    conn.on('binary', (header, payload) => this.onBinary(conn, header, payload));
    conn.on('message', (msg) => this.onMessage(msg));
    conn.on('protocolError', (err) => this.onProtocolError(err));
    conn.on('lost', (reason) => void this.reconnect(conn, reason));
  }

  private pump(): void {
    const conn = this.conn;
    if (!conn?.open) return;
    const head = this.o.playhead();
    while (this.pending.length > 0) {
      const item = this.pending[0]!;
      if (item.kind === 'end') {
        conn.sendJson({ type: 'segment_end', segment: item.segment });
        this.pending.shift();
        continue;
      }
      if (head && (item.segment < head.segment || (item.segment === head.segment && item.pts + item.samples <= head.pts))) {
        // Playout is past it: a frame for it would arrive late and be dropped anyway.
        this.stats.inputSkipped++;
        this.pending.shift();
        continue;
      }
      if (this.inputCreditSamples <= 0) return;
      conn.sendBinary(item.kind, item.segment, item.pts, item.payload);
      this.inputCreditSamples -= item.samples;
      this.stats.inputSent++;
      this.pending.shift();
    }
  }

  private onMessage(msg: ParsedRendererMessage): void {
    switch (msg.type) {
      case 'input_credit':
        this.inputCreditSamples += Math.round((msg.ms * this.o.start.clockRate) / 1000);
        this.pump();
        return;
      case 'segment_done':
        // After the frames before it are delivered, in order.
        this.delivery = this.delivery.then(() => this.o.onSegmentDone(msg.segment)).catch((err: unknown) => this.onDeliveryError(err));
        return;
      case 'error':
        this.logRenderer({ code: msg.code, message: msg.message }, 'renderer reported an error');
        return;
      case 'ready':
        this.onProtocolError({ message: 'renderer sent a second ready' });
        return;
    }
  }

  private onBinary(conn: RendererConnection, header: BinaryHeader, payload: Uint8Array): void {
    if (header.kind !== BinaryKind.video) {
      return this.onProtocolError({ message: `renderer sent binary kind ${header.kind}; renderers send only video frames (kind ${BinaryKind.video})` });
    }
    this.stats.framesReceived++;
    if (this.frameAllowance <= 0) {
      // A renderer ignoring its credits must not grow the worker's memory.
      this.stats.overCredit++;
      return this.onProtocolError({ message: 'renderer sent a frame beyond its credits (dropped); wait for frame_credit before sending more' });
    }
    this.frameAllowance--;
    const decoding = decodeFrame(payload, this.o.start.video);
    // Decoding starts now (in parallel, on libuv's pool) but is awaited in arrival order below; a
    // frame that fails before its turn must not count as an unhandled rejection meanwhile.
    decoding.catch(() => undefined);
    const idle = (header.flags & BinaryFlags.idle) !== 0;
    this.delivery = this.delivery.then(async () => {
      try {
        const frame = await decoding;
        this.consecutiveBad = 0;
        this.o.onFrame({ frame, pts: header.pts, segment: idle ? 0 : header.segment, idle });
      } catch (err) {
        this.stats.badFrames++;
        this.consecutiveBad++;
        this.grant(1);
        this.logRenderer({ err: (err as Error).message, badFrames: this.stats.badFrames }, 'renderer frame rejected');
        // A renderer that sends nothing but garbage is broken: start over with a fresh session.
        if (this.consecutiveBad >= 2 * this.o.start.video.fps && conn.open) conn.abort(`${this.consecutiveBad} bad frames in a row (${(err as Error).message})`);
      }
    }).catch((err: unknown) => this.onDeliveryError(err));
  }

  /** A consumer that throws must not break the chain that delivers the frames after it. */
  private onDeliveryError(err: unknown): void {
    this.log.error({ renderer: this.where, err: err instanceof Error ? err.message : String(err) }, 'delivering a renderer frame failed');
  }

  private onProtocolError(err: Pick<ProtocolError, 'message'>): void {
    this.stats.protocolErrors++;
    this.logRenderer({ err: err.message, protocolErrors: this.stats.protocolErrors }, 'renderer broke the protocol; message ignored');
  }

  /** Renderer faults are logged at most once a second, so a garbage stream cannot flood the log. */
  private logRenderer(fields: object, msg: string): void {
    const now = Date.now();
    if (now - this.lastErrorLogAt < 1000) return;
    this.lastErrorLogAt = now;
    this.log.warn({ renderer: this.where, ...fields }, msg);
  }

  private grant(count: number): void {
    if (count <= 0) return;
    this.grantPending += count;
    if (this.grantScheduled) return;
    this.grantScheduled = true;
    // Releases come a few per tick; one frame_credit message per turn of the event loop.
    setImmediate(() => {
      this.grantScheduled = false;
      const frames = Math.min(1000, this.grantPending);
      this.grantPending -= frames;
      if (frames > 0 && this.conn?.open) {
        this.frameAllowance += frames;
        this.conn.sendJson({ type: 'frame_credit', frames });
      }
    });
  }

  private async reconnect(broken: RendererConnection, reason: string): Promise<void> {
    if (this.closed || broken !== this.conn) return;
    this.conn = undefined;
    const { attempts, initialDelayMs, maxDelayMs } = this.o.reconnect;
    this.log.warn({ renderer: this.where, reason, attempts }, 'renderer connection lost mid-call; reconnecting (the voice goes on over the last picture)');
    let last = reason;
    for (let i = 0; i < attempts && !this.closed; i++) {
      await new Promise((r) => setTimeout(r, Math.min(maxDelayMs, initialDelayMs * 2 ** i)));
      if (this.closed) return;
      try {
        const conn = await this.open();
        if (this.closed) return conn.close();
        this.owedReleases = this.o.heldFrames();
        this.use(conn);
        this.stats.reconnects++;
        // What playout still needs, from the start of each unfinished reply (stale input is skipped).
        this.pending = [...this.history];
        this.pump();
        this.log.info({ renderer: this.where, attempt: i + 1 }, 'renderer reconnected');
        return;
      } catch (err) {
        last = (err as Error).message;
        this.log.warn({ renderer: this.where, attempt: i + 1, of: attempts, err: last }, 'renderer reconnect failed');
        if (err instanceof RendererConnectError && err.permanent) break;
      }
    }
    if (this.closed) return;
    this.isLost = true;
    const why = `${this.where} is gone: ${reason}; ${attempts} reconnect attempt(s) failed${attempts ? ` (last: ${last})` : ''}`;
    this.log.error({ renderer: this.where }, why);
    this.resolveLost(why);
  }

  get gone(): boolean {
    return this.isLost;
  }
}

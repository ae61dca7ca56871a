import type { Logger } from 'pino';
import { PcmQueue } from '../../audio/pcm-queue.js';
import type { RgbaFrame } from '../frames/frame-source.js';
import type { AvatarMediaSink } from './media-sink.js';
import { FrameTicker } from './ticker.js';

/** A frame from an external renderer, stamped with the audio it shows. */
export interface TimedFrame {
  frame: RgbaFrame;
  /** Position on the audio clock (samples) whose mouth this frame shows; ignored for idle frames. */
  pts: number;
  /** The reply it belongs to (0 for idle motion). */
  segment: number;
  idle: boolean;
}

/** What one tick published: for tests and benchmarks. */
export interface TickReport {
  /** Video tick number (the frame's time on the avatar clock is tick / fps). */
  tick: number;
  /** Reply playing (0 when idle). */
  segment: number;
  /** Audio-clock position of the first sample of this tick's audio (speech ticks only). */
  audioPts?: number;
  /** pts of the renderer frame shown (speech ticks with a fresh frame). */
  framePts?: number;
  /** fresh: a frame rendered for this audio; repeat: the last picture again (renderer behind); idle. */
  kind: 'fresh' | 'repeat' | 'idle';
  /** Speech samples in this tick. */
  speechSamples: number;
}

export interface SyncStats {
  ticks: number;
  speechTicks: number;
  fresh: number;
  /** Speech ticks that showed the previous picture because no frame for their audio had arrived. */
  repeated: number;
  idle: number;
  /** Frames that arrived after their audio had played. */
  droppedLate: number;
  /** Frames thrown away unseen: an interrupted reply's, idle frames overtaken by speech. */
  discarded: number;
  /** Frames beyond the queue cap (a renderer ignoring its credits). */
  overflow: number;
  /** The most frames ever queued at once. */
  maxQueued: number;
  /** Replies that gave up waiting for their first frame and played over the last picture. */
  startedWithoutVideo: number;
}

export interface SegmentStart {
  segment: number;
  /** Wall clock when the first audio of the reply reached the synchronizer. */
  firstAudioAt: number;
  /** Wall clock when its first tick was published. */
  startedAt: number;
  /** Wall clock when its first frame arrived (undefined if it started without one). */
  firstFrameAt?: number;
  /** Milliseconds the audio was held after its first frame arrived (the pre-buffer's cost). */
  prebufferWaitMs: number;
}

export interface AvSynchronizerOptions {
  sink: AvatarMediaSink;
  width: number;
  height: number;
  fps: number;
  /** The audio clock: sample rate of the speech and of every pts. */
  sampleRate: number;
  /** Frames covering this much audio must be queued before a reply starts (jitter absorber). */
  prebufferMs: number;
  /** A reply waits at most this long (from its first audio) for frames, then plays anyway. */
  firstFrameTimeoutMs: number;
  /** Hard cap of queued frames; the renderer's credits keep it below this. */
  maxQueuedFrames: number;
  logger: Logger;
  /** Frames left the queue (shown, dropped or discarded): credits to give back to the renderer. */
  onFramesReleased?: (count: number) => void;
  onSegmentStarted?: (start: SegmentStart) => void;
  /** Once per reply, interrupted or not, with the seconds heard. */
  onSegmentFinished?: (segment: number, playbackPosition: number, interrupted: boolean) => void;
  onTick?: (report: TickReport) => void;
  /** Drive ticks with tick() instead of the real-time clock (offline rendering, benchmarks). */
  manualClock?: boolean;
}

interface Segment {
  id: number;
  /** Audio-clock position of its first sample. */
  startPts: number;
  /** Audio not yet played. */
  audio: PcmQueue;
  capturedSamples: number;
  playedSamples: number;
  flushed: boolean;
  /** The renderer said it sent its last frame. */
  rendererDone: boolean;
  started: boolean;
  firstAudioAt: number;
  firstFrameAt?: number;
  ticks: number;
}

/**
 * Publishes a reply's audio together with the frame an external renderer made for it. Audio is
 * the master clock (it is the conversation): ticks at `fps` play exactly the next tick of audio
 * and show the queued frame whose pts matches that audio within half a frame, so the sink gets
 * picture and sound as one unit, as it does from the built-in face.
 *
 * - pre-buffer: a reply starts once frames for its first `prebufferMs` are queued (or the
 *   renderer has finished it, or `firstFrameTimeoutMs` passed: then it plays over the last picture);
 * - late frames (their audio already played) are dropped; when no frame matches, the last
 *   picture repeats (a stalled renderer freezes the face, never the voice);
 * - while silent, idle frames from the renderer are shown in order, else the last rest picture;
 * - interruption empties the audio and the reply's frames at once: the next tick is silent and idle.
 */
export class AvSynchronizer {
  readonly stats: SyncStats = { ticks: 0, speechTicks: 0, fresh: 0, repeated: 0, idle: 0, droppedLate: 0, discarded: 0, overflow: 0, maxQueued: 0, startedWithoutVideo: 0 };

  private readonly o: AvSynchronizerOptions;
  private readonly ticker: FrameTicker;
  private readonly halfFrame: number;
  private readonly prebufferFrames: number;
  private segments: Segment[] = [];
  private frames: TimedFrame[] = [];
  private lastShown: RgbaFrame;
  /** The latest idle picture: what an interrupted or silent avatar shows when no idle stream comes. */
  private restFrame: RgbaFrame | undefined;
  private tickIndex = 0;
  /**
   * The current reply's last ticks handed to the sink (its audio and the frame shown), newest last,
   * so a pause can take back what the sink had not played. At most a second's worth.
   */
  private handed: { segment: number; pcm: Int16Array; frame: TimedFrame | undefined }[] = [];
  /** Frames put back by a pause: their credit went back to the renderer when first shown. */
  private readonly requeued = new WeakSet<TimedFrame>();
  private paused = false;
  private closed = false;

  constructor(opts: AvSynchronizerOptions) {
    this.o = opts;
    this.halfFrame = opts.sampleRate / opts.fps / 2;
    this.prebufferFrames = Math.max(1, Math.ceil((opts.prebufferMs * opts.fps) / 1000));
    this.lastShown = blankFrame(opts.width, opts.height);
    this.ticker = new FrameTicker(opts.fps, (due) => this.onTicks(due));
  }

  async start(): Promise<void> {
    const { width, height, fps, sampleRate } = this.o;
    await this.o.sink.start({ width, height, fps, sampleRate });
    if (!this.o.manualClock) this.ticker.start();
  }

  /** Play one tick now (with `manualClock`). */
  tick(): void {
    this.playTick(true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker.stop();
    this.releaseFrames(this.frames);
    this.frames = [];
    this.segments = [];
    await this.o.sink.close();
  }

  /** Audio of reply `segment` (a new id opens it at `startPts` on the audio clock). */
  pushAudio(segment: number, startPts: number, pcm: Int16Array): void {
    if (this.closed) return;
    let seg = this.segments.find((s) => s.id === segment);
    if (!seg) {
      seg = { id: segment, startPts, audio: new PcmQueue(), capturedSamples: 0, playedSamples: 0, flushed: false, rendererDone: false, started: false, firstAudioAt: Date.now(), ticks: 0 };
      this.segments.push(seg);
    }
    seg.audio.push(pcm);
    seg.capturedSamples += pcm.length;
  }

  /** All of the reply's audio has been pushed. */
  endSegment(segment: number): void {
    const seg = this.segments.find((s) => s.id === segment);
    if (seg) seg.flushed = true;
  }

  /** The renderer has sent every frame of the reply: no point waiting for more. */
  rendererDone(segment: number): void {
    const seg = this.segments.find((s) => s.id === segment);
    if (seg) seg.rendererDone = true;
  }

  pushFrame(frame: TimedFrame): void {
    if (this.closed) return void this.release(1);
    if (frame.idle) this.restFrame = frame.frame;
    const current = this.segments[0];
    // Frames of replies already gone (interrupted, finished) are dead on arrival.
    if (!frame.idle && (!this.segments.some((s) => s.id === frame.segment) || (current && frame.segment < current.id))) {
      this.stats.discarded++;
      return void this.release(1);
    }
    if (!frame.idle) {
      const seg = this.segments.find((s) => s.id === frame.segment)!;
      seg.firstFrameAt ??= Date.now();
    }
    this.frames.push(frame);
    if (this.frames.length > this.o.maxQueuedFrames) {
      this.releaseFrames([this.frames.shift()!]);
      this.stats.overflow++;
    }
    this.stats.maxQueued = Math.max(this.stats.maxQueued, this.frames.length);
  }

  /** Samples of audio held (all replies): the caller's backpressure measure. */
  queuedSamples(): number {
    return this.segments.reduce((n, s) => n + s.audio.samples, 0);
  }

  queuedFrames(): number {
    return this.frames.length;
  }

  /** The reply now playing or waiting to play, if any. */
  currentSegment(): number | undefined {
    return this.segments[0]?.id;
  }

  /** Audio-clock position up to which the current reply has been played (nothing before it needs frames). */
  playhead(): { segment: number; pts: number } | undefined {
    const seg = this.segments[0];
    return seg ? { segment: seg.id, pts: seg.startPts + seg.playedSamples } : undefined;
  }

  /**
   * Drop every reply and their frames now; the next tick is silent and shows the rest picture.
   * Each dropped reply is reported finished (interrupted) with what was heard of it.
   */
  interrupt(): void {
    const dropped = this.segments;
    this.segments = [];
    // What the sink still held was never heard: read it before it is thrown away.
    const queuedSamples = (this.o.sink.queuedAudioMs() / 1000) * this.o.sampleRate;
    this.o.sink.clearAudio();
    const droppedFrames = this.frames.filter((f) => !f.idle);
    this.frames = this.frames.filter((f) => f.idle);
    this.stats.discarded += droppedFrames.length;
    this.releaseFrames(droppedFrames);
    this.handed = [];
    // A still, closed mouth rather than the open one the reply was cut on.
    if (this.restFrame) this.lastShown = this.restFrame;
    for (const seg of dropped) {
      const unheard = seg.started ? queuedSamples : 0;
      const heard = Math.max(0, seg.playedSamples - unheard);
      this.o.onSegmentFinished?.(seg.id, heard / this.o.sampleRate, true);
    }
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.takeBackUnheard();
    this.o.sink.clearAudio();
    // Paused mid-word: rest the face rather than hold an open mouth.
    if (this.restFrame) this.lastShown = this.restFrame;
  }

  resume(): void {
    this.paused = false;
  }

  private onTicks(due: number): void {
    // A starved process catches up on audio (every tick plays) but draws only the newest frame.
    for (let i = 0; i < due; i++) this.playTick(i === due - 1);
  }

  private playTick(draw: boolean): void {
    const tick = this.tickIndex++;
    this.stats.ticks++;
    const seg = this.paused ? undefined : this.segments[0];
    if (seg && !seg.started && this.readyToStart(seg)) this.startSegment(seg);

    if (!seg?.started) {
      this.publish(new Int16Array(this.tickSamples(tick)), false, this.idleFrame(), tick, draw);
      this.stats.idle++;
      this.o.onTick?.({ tick, segment: 0, kind: 'idle', speechSamples: 0 });
      return;
    }

    const pts = seg.startPts + seg.playedSamples;
    const n = this.tickSamplesAt(seg);
    const pcm = new Int16Array(n);
    const real = seg.audio.take(pcm);
    seg.playedSamples += real;
    seg.ticks++;
    const match = this.frameFor(seg.id, pts);
    if (match) {
      this.lastShown = match.frame;
      this.stats.fresh++;
    } else {
      this.stats.repeated++;
    }
    this.handed.push({ segment: seg.id, pcm: pcm.subarray(0, real), frame: match });
    if (this.handed.length > this.o.fps) this.handed.shift();
    this.stats.speechTicks++;
    this.publish(pcm, real > 0, this.lastShown, tick, draw);
    this.o.onTick?.({ tick, segment: seg.id, audioPts: pts, framePts: match?.pts, kind: match ? 'fresh' : 'repeat', speechSamples: real });

    if (seg.flushed && seg.audio.samples === 0) this.finishSegment(seg);
  }

  private readyToStart(seg: Segment): boolean {
    if (seg.audio.samples === 0 && !seg.flushed) return false;
    if (seg.rendererDone) return true;
    const queued = this.frames.reduce((n, f) => n + (f.segment === seg.id ? 1 : 0), 0);
    const spf = this.o.sampleRate / this.o.fps;
    const expected = seg.flushed ? Math.ceil(seg.capturedSamples / spf) : Infinity;
    if (queued >= Math.min(this.prebufferFrames, expected)) return true;
    if (Date.now() - seg.firstAudioAt >= this.o.firstFrameTimeoutMs) {
      this.stats.startedWithoutVideo++;
      this.o.logger.warn({ segment: seg.id, waitedMs: Date.now() - seg.firstAudioAt, framesQueued: queued }, 'renderer frames late: the reply plays over the last picture');
      return true;
    }
    return false;
  }

  private startSegment(seg: Segment): void {
    seg.started = true;
    const now = Date.now();
    this.o.onSegmentStarted?.({
      segment: seg.id,
      firstAudioAt: seg.firstAudioAt,
      startedAt: now,
      firstFrameAt: seg.firstFrameAt,
      prebufferWaitMs: seg.firstFrameAt === undefined ? 0 : now - seg.firstFrameAt,
    });
  }

  private finishSegment(seg: Segment): void {
    this.segments.shift();
    // Frames the renderer made beyond the audio (rounding, its last window) are of no use now.
    this.discardFrames((f) => !f.idle && f.segment === seg.id);
    const position = seg.playedSamples / this.o.sampleRate;
    const done = () => this.o.onSegmentFinished?.(seg.id, position, false);
    // The last tick is handed over; it is heard once the sink has played what it holds.
    const holdMs = this.o.sink.queuedAudioMs();
    if (holdMs > 1) setTimeout(done, holdMs).unref();
    else done();
  }

  /**
   * The frame for audio at `pts`: the newest of this reply's frames not after pts + half a frame.
   * Older ones are passed over (late); one older than half a frame is late too, and not shown.
   */
  private frameFor(segment: number, pts: number): TimedFrame | undefined {
    // Idle frames and frames of earlier replies have no place in this reply.
    this.discardFrames((f) => f.idle || f.segment < segment);
    let chosen: TimedFrame | undefined;
    let taken = 0;
    for (const f of this.frames) {
      if (f.segment !== segment || f.pts > pts + this.halfFrame) break;
      if (chosen) this.stats.droppedLate++;
      chosen = f;
      taken++;
    }
    if (taken === 0) return undefined;
    this.releaseFrames(this.frames.splice(0, taken));
    if (chosen!.pts < pts - this.halfFrame) {
      this.stats.droppedLate++;
      return undefined;
    }
    return chosen;
  }

  private idleFrame(): RgbaFrame {
    const i = this.frames.findIndex((f) => f.idle);
    if (i >= 0) {
      // Idle frames queued before speech frames: show the oldest, one per tick.
      const [f] = this.frames.splice(i, 1);
      this.release(1);
      this.lastShown = f!.frame;
      return f!.frame;
    }
    return this.lastShown;
  }

  private discardFrames(predicate: (f: TimedFrame) => boolean): void {
    const gone = this.frames.filter(predicate);
    if (gone.length === 0) return;
    this.frames = this.frames.filter((f) => !predicate(f));
    this.stats.discarded += gone.length;
    this.releaseFrames(gone);
  }

  /**
   * A pause drops what the sink holds, so the voice stops now; the ticks it held go back to the
   * head of the reply, audio and frame together, so a resume (a cough, not a barge-in) plays them
   * again in sync instead of skipping them. Whole ticks, the nearest to what the sink held.
   */
  private takeBackUnheard(): void {
    const seg = this.segments[0];
    if (!seg?.started) return;
    let unheard = (this.o.sink.queuedAudioMs() / 1000) * this.o.sampleRate;
    while (this.handed.length > 0) {
      const tick = this.handed.at(-1)!;
      if (tick.segment !== seg.id || unheard < tick.pcm.length / 2) break;
      this.handed.pop();
      unheard -= tick.pcm.length;
      seg.audio.unshift(tick.pcm);
      seg.playedSamples -= tick.pcm.length;
      seg.ticks--;
      if (tick.frame) {
        this.requeued.add(tick.frame);
        this.frames.unshift(tick.frame);
      }
    }
  }

  private publish(pcm: Int16Array, speech: boolean, frame: RgbaFrame, tick: number, draw: boolean): void {
    this.o.sink.pushAudio(pcm, speech);
    if (draw) this.o.sink.pushVideo(frame, (tick * 1000) / this.o.fps);
  }

  /** Samples in video tick k: exact on the audio clock at any rate/fps pair (no drift). */
  private tickSamples(k: number): number {
    const { sampleRate, fps } = this.o;
    return Math.floor(((k + 1) * sampleRate) / fps) - Math.floor((k * sampleRate) / fps);
  }

  /** A reply's tick j covers samples [floor(j·sr/fps), floor((j+1)·sr/fps)) of it: the renderer's frame j. */
  private tickSamplesAt(seg: Segment): number {
    return this.tickSamples(seg.ticks);
  }

  private release(count: number): void {
    if (count > 0) this.o.onFramesReleased?.(count);
  }

  /** Gives the renderer back a credit for each frame, except frames a pause put back (already given). */
  private releaseFrames(frames: readonly TimedFrame[]): void {
    this.release(frames.filter((f) => !this.requeued.has(f)).length);
  }
}

function blankFrame(width: number, height: number): RgbaFrame {
  const data = new Uint8Array(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width, height, data };
}

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { AudioFrame } from '@livekit/rtc-node';
import { voice } from '@livekit/agents';
import type { Logger } from 'pino';
import { downmixInterleaved } from '../../audio/pcm.js';
import { Backpressure } from '../../audio/backpressure.js';
import type { AvatarKeys } from '../../config/config.js';
import type { LocalOutput } from '../contract.js';
import type { SegmentTimings } from '../local/avatar-output.js';
import { AvSynchronizer, type AvSynchronizerOptions, type SegmentStart, type SyncStats, type TickReport } from '../local/av-synchronizer.js';
import type { AvatarMediaSink } from '../local/media-sink.js';
import { createVisemeEngine, MOUTH_BLENDSHAPES, type VisemeEngine } from '../visemes/index.js';
import { RendererClient, type RendererClientStats } from './client.js';
import { rendererInput, rendererTiming, type RendererProfile } from './profiles.js';
import { MAX_INLINE_IMAGE_BYTES, type StartMessage } from './protocol.js';

export interface RendererOutputOptions {
  profile: RendererProfile;
  sink: AvatarMediaSink;
  logger: Logger;
  /** AVATAR_RENDERER_SECRET. */
  secret?: string;
  /** Longest reply audio held ahead of playout; beyond it captureFrame waits (backpressure). */
  maxQueuedMs?: number;
  /** Per-tick report, for tests and benchmarks. */
  onTick?: (report: TickReport) => void;
  /** Each reply's start: when its first audio and first frame arrived and when it began to play. */
  onSegmentStart?: (start: SegmentStart) => void;
}

/**
 * The local family's output for avatars rendered by a GPU server over the renderer protocol.
 * AgentSession hands it the reply's audio as fast as the TTS makes it; the audio goes to the
 * renderer at once (as PCM, or as ARKit blendshapes from our viseme engine, one message per video
 * frame) and waits in the AV synchronizer, which publishes each tick of audio with the frame the
 * renderer made for it. Segments follow AgentSession's contract: one playbackFinished per flush()
 * or clearBuffer(), with the position heard.
 *
 * A renderer that stalls, breaks or leaves never ends the call: the voice plays on over the last
 * picture while the client reconnects, and `lost` resolves if the renderer stays gone.
 */
export class RendererOutput extends voice.AudioOutput implements LocalOutput {
  readonly profile: RendererProfile;
  /** Resolves, with why, when the renderer is gone for good. Never rejects. */
  readonly lost: Promise<string>;

  private readonly sync: AvSynchronizer;
  private readonly client: RendererClient;
  private readonly log: Logger;
  private readonly secret: string | undefined;
  private readonly maxQueuedSamples: number;
  private readonly input: 'audio' | 'blendshapes';
  private readonly visemes: VisemeEngine | undefined;
  private readonly rate: number;
  private readonly fps: number;
  private readonly startMessage: Omit<StartMessage, 'type' | 'versions'>;

  /** Next free position on the audio clock (samples). */
  private clock = 0;
  private segmentCounter = 0;
  /** The reply being captured (between its first audio and its flush). */
  private open: { id: number; startPts: number; captured: number; chunk: Int16Array; chunkFill: number; chunkIndex: number } | undefined;
  /** Holds the TTS while more than maxQueuedSamples wait in the synchronizer. */
  private readonly backpressure = new Backpressure(() => this.sync.queuedSamples() > this.maxQueuedSamples);
  private closed = false;
  private started = false;

  constructor(opts: RendererOutputOptions) {
    // Pausable, so a false interruption (a cough, an "uh-huh") can pause the avatar and resume it.
    super(opts.profile.sampleRate, undefined, { pause: true });
    const profile = opts.profile;
    this.profile = profile;
    this.log = opts.logger.child({ avatar: profile.name, adapter: profile.adapter });
    this.secret = opts.secret;
    this.rate = profile.sampleRate;
    this.fps = profile.fps;
    this.input = rendererInput(profile);
    this.visemes = this.input === 'blendshapes' ? createVisemeEngine({ fps: profile.fps }) : undefined;
    this.maxQueuedSamples = Math.round(((opts.maxQueuedMs ?? 20_000) / 1000) * this.rate);
    const timing = rendererTiming(profile);

    const syncOptions: AvSynchronizerOptions = {
      sink: opts.sink,
      width: profile.width,
      height: profile.height,
      fps: profile.fps,
      sampleRate: this.rate,
      prebufferMs: timing.prebufferMs,
      firstFrameTimeoutMs: timing.firstFrameTimeoutMs,
      // Credits keep the queue at the window; the slack covers frames of a dropped connection.
      maxQueuedFrames: profile.frameWindow * 2,
      logger: this.log,
      onFramesReleased: (n) => this.client.releaseFrames(n),
      onSegmentStarted: (s) => {
        opts.onSegmentStart?.(s);
        this.onPlaybackStarted(s.startedAt + opts.sink.queuedAudioMs());
        this.emit('segment_timings', { firstAudioAt: s.firstAudioAt, firstSpeakingFrameAt: s.startedAt } satisfies SegmentTimings);
      },
      onSegmentFinished: (segment, position, interrupted) => {
        this.client.segmentFinished(segment);
        this.log.debug({ segment, playbackPosition: position, interrupted }, 'avatar playback finished');
        this.onPlaybackFinished({ playbackPosition: position, interrupted });
      },
      onTick: (report) => {
        opts.onTick?.(report);
        this.backpressure.release();
      },
    };
    this.sync = new AvSynchronizer(syncOptions);
    this.startMessage = {
      session: `${profile.name}-${randomUUID().slice(0, 8)}`,
      avatar: { id: profile.avatarId },
      video: { width: profile.width, height: profile.height, fps: profile.fps, format: profile.frameFormat },
      clockRate: profile.sampleRate,
      input: this.input === 'audio' ? { kind: 'audio', encoding: 'pcm_s16le', channels: 1 } : { kind: 'blendshapes', names: [...MOUTH_BLENDSHAPES] },
      idle: profile.idle,
      frameCredits: profile.frameWindow,
    };
    this.client = new RendererClient({
      url: profile.url,
      secret: opts.secret,
      start: this.startMessage,
      timeoutMs: profile.startTimeoutMs,
      silenceTimeoutMs: profile.silenceTimeoutMs,
      logger: this.log,
      reconnect: profile.reconnect,
      frameWindow: profile.frameWindow,
      onFrame: (f) => this.sync.pushFrame(f),
      onSegmentDone: (segment) => this.sync.rendererDone(segment),
      playhead: () => this.sync.playhead(),
      heldFrames: () => this.sync.queuedFrames(),
    });
    this.lost = this.client.lost;
  }

  /** Connect and start the renderer session (throws a clear Error if it cannot), then start the video clock. */
  async start(): Promise<void> {
    if (this.started) return;
    // Read (and size-checked) once; the same start message serves every reconnect.
    this.startMessage.avatar = await avatarSpec(this.profile);
    await this.client.connect();
    try {
      await this.sync.start();
    } catch (err) {
      this.client.close();
      throw err;
    }
    this.started = true;
  }

  get syncStats(): Readonly<SyncStats> {
    return this.sync.stats;
  }

  get clientStats(): Readonly<RendererClientStats> {
    return this.client.stats;
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    if (this.closed) return;
    await super.captureFrame(frame);
    if (frame.sampleRate !== this.rate) {
      // AgentSession resamples to this output's sampleRate; anything else is a wiring bug.
      throw new Error(`RendererOutput expects ${this.rate} Hz audio, got ${frame.sampleRate} Hz`);
    }
    if (!this.open) {
      this.open = { id: ++this.segmentCounter, startPts: this.clock, captured: 0, chunk: new Int16Array(this.chunkSize(0)), chunkFill: 0, chunkIndex: 0 };
    }
    const seg = this.open;
    const mono = downmixInterleaved(frame.data, frame.channels);
    seg.captured += mono.length;
    this.sync.pushAudio(seg.id, seg.startPts, mono);
    this.chunkInput(mono);
    await this.backpressure.wait(() => !this.closed && this.open === seg);
  }

  override flush(): void {
    super.flush();
    const seg = this.open;
    if (!seg) return;
    if (seg.chunkFill > 0) this.sendChunk(seg.chunk.subarray(0, seg.chunkFill));
    this.open = undefined;
    this.clock = seg.startPts + seg.captured;
    this.client.endSegment(seg.id);
    this.sync.endSegment(seg.id);
  }

  override clearBuffer(): void {
    const seg = this.open;
    if (seg) this.clock = seg.startPts + seg.captured;
    this.open = undefined;
    const last = this.segmentCounter;
    const hadAudio = this.sync.currentSegment() !== undefined;
    this.sync.interrupt();
    if (last > 0 && hadAudio) this.client.interrupt(last);
    this.visemes?.reset();
    // A flush() that arrives after an interruption must not open a phantom segment.
    super.flush();
    this.backpressure.release();
  }

  override pause(): void {
    this.sync.pause();
  }

  override resume(): void {
    this.sync.resume();
  }

  onSegmentTimings(listener: (t: SegmentTimings) => void): void {
    this.on('segment_timings', listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.backpressure.release(true);
    await this.sync.close();
  }

  /** Samples of input message i of a reply: exactly the audio of the reply's video frame i. */
  private chunkSize(i: number): number {
    return Math.floor(((i + 1) * this.rate) / this.fps) - Math.floor((i * this.rate) / this.fps);
  }

  /** Cut the reply into one input message per video frame, so a resend can start on any frame. */
  private chunkInput(mono: Int16Array): void {
    const seg = this.open!;
    let at = 0;
    while (at < mono.length) {
      const take = Math.min(mono.length - at, seg.chunk.length - seg.chunkFill);
      seg.chunk.set(mono.subarray(at, at + take), seg.chunkFill);
      seg.chunkFill += take;
      at += take;
      if (seg.chunkFill === seg.chunk.length) this.sendChunk(seg.chunk);
    }
  }

  private sendChunk(pcm: Int16Array): void {
    const seg = this.open!;
    const pts = seg.startPts + Math.floor((seg.chunkIndex * this.rate) / this.fps);
    if (this.visemes) {
      const weights = this.visemes.frame(pcm, this.rate);
      const payload = new Float32Array(MOUTH_BLENDSHAPES.length);
      MOUTH_BLENDSHAPES.forEach((name, i) => (payload[i] = weights[name] ?? 0));
      this.client.sendInput('blendshapes', seg.id, pts, pcm.length, new Uint8Array(payload.buffer));
    } else {
      const copy = pcm.slice();
      this.client.sendInput('audio', seg.id, pts, pcm.length, new Uint8Array(copy.buffer));
    }
    seg.chunkIndex++;
    seg.chunk = new Int16Array(this.chunkSize(seg.chunkIndex));
    seg.chunkFill = 0;
  }

}

/** The avatar part of the session start: an id, an image URL, or a local image sent inline. */
async function avatarSpec(profile: RendererProfile): Promise<StartMessage['avatar']> {
  const image = profile.referenceImage;
  if (!image) return { id: profile.avatarId };
  if (/^https?:\/\//.test(image)) return { id: profile.avatarId, imageUrl: image };
  const mime = ({ '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp' } as const)[extname(image).toLowerCase()];
  if (!mime) throw new Error(`avatar ${profile.name}: referenceImage ${image} must be a .jpg, .png or .webp file or an https:// URL`);
  let bytes: Buffer;
  try {
    bytes = await readFile(image);
  } catch (err) {
    throw new Error(`avatar ${profile.name}: cannot read referenceImage ${image} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the path is relative to the working directory`);
  }
  if (bytes.byteLength > MAX_INLINE_IMAGE_BYTES) {
    throw new Error(`avatar ${profile.name}: referenceImage ${image} is ${bytes.byteLength} bytes; the protocol carries at most ${MAX_INLINE_IMAGE_BYTES} inline: shrink it or serve it over https`);
  }
  return { id: profile.avatarId, image: { mime, base64: bytes.toString('base64') } };
}

export interface RendererOutputDeps {
  sink: AvatarMediaSink;
  logger: Logger;
  keys?: AvatarKeys;
}

/** The renderer-protocol LocalOutput for a `diffusion` or `splat` profile (what the avatar runner drives). */
export function rendererOutputFor(profile: RendererProfile, deps: RendererOutputDeps): RendererOutput {
  return new RendererOutput({ profile, sink: deps.sink, logger: deps.logger, secret: deps.keys?.rendererSecret });
}

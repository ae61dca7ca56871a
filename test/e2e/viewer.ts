/**
 * The user's side of a call, measured as a viewer would experience it: what arrives on the avatar's
 * tracks (frame by frame, with the wall-clock time each one reached this process) and a microphone
 * that plays recorded speech in real time.
 */
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  LocalVideoTrack,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoFrame,
  VideoSource,
  VideoStream,
  type LocalTrackPublication,
  type RemoteTrack,
  type Room,
} from '@livekit/rtc-node';
import { createBuiltinFace, type Rect } from '../../src/avatar/frames/builtin/index.js';
import { rms } from '../livekit-server/testing.js';

/** Wall clock in ms with sub-millisecond precision (comparable with the worker's Date.now()). */
export const now = () => performance.timeOrigin + performance.now();

let layout: ReturnType<typeof createBuiltinFace>['layout'] | undefined;
/** Where the default face's features sit at rest on its 512x512 frame. */
export function faceLayout(): ReturnType<typeof createBuiltinFace>['layout'] {
  return (layout ??= createBuiltinFace({ width: 512, height: 512 }).layout);
}

export interface ReceivedVideoFrame {
  /** When the test's event loop got the frame. */
  at: number;
  /**
   * When the receiver meant to show it: the render time its jitter buffer gave the decoded frame
   * (the frame's `timestampUs`, on the monotonic clock), in `now()`'s clock. A viewer's screen shows
   * the frame then; `at` is that plus however long a busy test process took to read it.
   */
  shownAt: number;
  width: number;
  height: number;
  /**
   * The mouth: mean luma of an 8x6 grid of cells over a box around the lips, padded for the head's
   * idle motion (the box test/support/avatar-measures.ts uses). Cell means, because the received
   * resolution changes while the encoders ramp up (256 → 384 → 512) and a mean survives scaling
   * where pixels do not; a grid, because an open mouth is a change of shape (dark inside, teeth,
   * lips apart) more than of overall brightness.
   */
  mouth: Float32Array;
  /** Share of dark (luma < 100) pixels in the same box, as avatar-measures.ts counts them (printed). */
  mouthDark: number;
  /** Mean luma around both eyes: rises while the eyelids close over the dark irises. */
  eyes: number;
  /** Mean luma of a 16x16 grid over the frame, to tell frames apart. */
  grid: Float32Array;
}

export interface ReceivedAudioFrame {
  /** When the test's event loop got the 10 ms frame (see `playedAt` for when a speaker plays it). */
  at: number;
  /** Root mean square of the 10 ms frame, PCM16 units. */
  rms: number;
}

/** Reads a remote track until `stop()`; everything that arrived is in `frames`. */
export interface Recorder<T> {
  readonly frames: T[];
  stop(): Promise<void>;
}

export function recordVideo(track: RemoteTrack): Recorder<ReceivedVideoFrame> {
  const frames: ReceivedVideoFrame[] = [];
  const stream = new VideoStream(track);
  const reader = stream.getReader();
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      frames.push(measureFrame(value.frame, now(), value.timestampUs));
    }
  })().catch(() => undefined);
  return {
    frames,
    async stop() {
      await reader.cancel().catch(() => undefined);
      await done;
    },
  };
}

export function recordAudio(track: RemoteTrack, sampleRate = 48_000): Recorder<ReceivedAudioFrame> {
  const frames: ReceivedAudioFrame[] = [];
  const stream = new AudioStream(track, { sampleRate, numChannels: 1 });
  const reader = stream.getReader();
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      frames.push({ at: now(), rms: rms(value.data) });
    }
  })().catch(() => undefined);
  return {
    frames,
    async stop() {
      await reader.cancel().catch(() => undefined);
      await done;
    },
  };
}

/** `now()` less the monotonic clock that WebRTC stamps render times with (both advance together). */
const MONOTONIC_TO_NOW_MS = now() - Number(process.hrtime.bigint()) / 1e6;

/**
 * The times a speaker plays received audio: 10 ms frames play back to back, so a frame was played
 * no later than it arrived, nor later than 10 ms before the next one. Read backwards from the last
 * frame, that undoes a busy reader that takes a burst of frames at once, and keeps real gaps.
 */
export function playedAt(frames: readonly ReceivedAudioFrame[]): ReceivedAudioFrame[] {
  const played = frames.map((f) => ({ ...f }));
  for (let i = played.length - 2; i >= 0; i--) played[i]!.at = Math.min(played[i]!.at, played[i + 1]!.at - 10);
  return played;
}

/** The frames on the viewer's screen timeline (`shownAt`) instead of their arrival in the test. */
export function shown(frames: readonly ReceivedVideoFrame[]): ReceivedVideoFrame[] {
  return frames.map((f) => ({ ...f, at: f.shownAt })).sort((a, b) => a.at - b.at);
}

function measureFrame(frame: VideoFrame, at: number, timestampUs: bigint): ReceivedVideoFrame {
  // Decoded frames are I420: the first plane is luma at full resolution.
  const luma = frame.type === VideoBufferType.I420 ? (frame.getPlane(0) as Uint8Array) : frame.convert(VideoBufferType.I420).getPlane(0)!;
  const { width, height } = frame;
  const sx = width / 512;
  const sy = height / 512;
  const pad = 12;
  const face = faceLayout();
  const lips = face.lips;
  const box = scale({ x: lips.x - pad, y: lips.y - pad, w: lips.w + 2 * pad, h: lips.h + 3 * pad }, sx, sy);
  const mouth = cellMeans(luma, width, box, 8, 6);
  const mouthDark = darkShare(luma, width, box);
  const eyes = (meanLuma(luma, width, scale(padRect(face.eyeLeft, pad), sx, sy)) + meanLuma(luma, width, scale(padRect(face.eyeRight, pad), sx, sy))) / 2;
  const grid = new Float32Array(256);
  const cw = Math.floor(width / 16);
  const ch = Math.floor(height / 16);
  for (let gy = 0; gy < 16; gy++) {
    for (let gx = 0; gx < 16; gx++) {
      let sum = 0;
      let n = 0;
      for (let y = gy * ch; y < (gy + 1) * ch; y += 2) {
        for (let x = gx * cw; x < (gx + 1) * cw; x += 2) {
          sum += luma[y * width + x]!;
          n++;
        }
      }
      grid[gy * 16 + gx] = sum / Math.max(1, n);
    }
  }
  const renderAt = Number(timestampUs) / 1000 + MONOTONIC_TO_NOW_MS;
  // A frame with no render time (0) is shown when it arrives.
  const shownAt = timestampUs > 0n && Math.abs(renderAt - at) < 60_000 ? renderAt : at;
  return { at, shownAt, width, height, mouth, mouthDark, eyes, grid };
}

function padRect(r: Rect, pad: number): Rect {
  return { x: r.x - pad, y: r.y - pad, w: r.w + 2 * pad, h: r.h + 2 * pad };
}

function scale(r: Rect, sx: number, sy: number): Rect {
  return { x: Math.floor(r.x * sx), y: Math.floor(r.y * sy), w: Math.ceil(r.w * sx), h: Math.ceil(r.h * sy) };
}

function cellMeans(luma: Uint8Array, width: number, r: Rect, cols: number, rows: number): Float32Array {
  const out = new Float32Array(cols * rows);
  for (let cy = 0; cy < rows; cy++) {
    for (let cx = 0; cx < cols; cx++) {
      const x0 = r.x + Math.floor((cx * r.w) / cols);
      const x1 = r.x + Math.floor(((cx + 1) * r.w) / cols);
      const y0 = r.y + Math.floor((cy * r.h) / rows);
      const y1 = r.y + Math.floor(((cy + 1) * r.h) / rows);
      out[cy * cols + cx] = meanLuma(luma, width, { x: x0, y: y0, w: x1 - x0, h: y1 - y0 });
    }
  }
  return out;
}

function darkShare(luma: Uint8Array, width: number, r: Rect, below = 100): number {
  let dark = 0;
  let all = 0;
  const height = Math.floor(luma.length / width);
  for (let y = Math.max(0, r.y); y < Math.min(height, r.y + r.h); y++) {
    for (let x = Math.max(0, r.x); x < Math.min(width, r.x + r.w); x++) {
      all++;
      if (luma[y * width + x]! < below) dark++;
    }
  }
  return all === 0 ? 0 : dark / all;
}

function meanLuma(luma: Uint8Array, width: number, r: Rect): number {
  let sum = 0;
  let all = 0;
  const height = Math.floor(luma.length / width);
  for (let y = Math.max(0, r.y); y < Math.min(height, r.y + r.h); y++) {
    for (let x = Math.max(0, r.x); x < Math.min(width, r.x + r.w); x++) {
      sum += luma[y * width + x]!;
      all++;
    }
  }
  return all === 0 ? 0 : sum / all;
}

/**
 * Mean absolute difference between two frames' grids, in luma levels; 0 across a change of
 * resolution (a resolution step is not motion).
 */
export function gridDistance(a: ReceivedVideoFrame, b: ReceivedVideoFrame): number {
  if (a.width !== b.width || a.height !== b.height) return 0;
  let sum = 0;
  for (let i = 0; i < a.grid.length; i++) sum += Math.abs(a.grid[i]! - b.grid[i]!);
  return sum / a.grid.length;
}

/**
 * A microphone fed in real time, 10 ms at a time, like a browser's: silence until `play()` is
 * given speech, then that speech, then silence again. Pacing by the wall clock keeps the source's
 * queue near empty, so the time a frame is captured is (within ~10 ms) the time it leaves.
 */
export class Microphone {
  static readonly SAMPLE_RATE = 48_000;
  private readonly source = new AudioSource(Microphone.SAMPLE_RATE, 1, 100);
  readonly track = LocalAudioTrack.createAudioTrack('microphone', this.source);
  private clip: { samples: Int16Array; offset: number; marks: [number, (at: number) => void][] } | undefined;
  private running = true;
  private readonly loop: Promise<void>;

  constructor() {
    this.loop = this.run();
  }

  /** `preconnectBuffer`: announce a pre-connect buffer (TF_PRECONNECT_BUFFER), as livekit-client does for a track it records one for. */
  publish(room: Room, options: { preconnectBuffer?: boolean } = {}): Promise<LocalTrackPublication> {
    return room.localParticipant!.publishTrack(
      this.track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, ...(options.preconnectBuffer ? { preconnectBuffer: true } : {}) }),
    );
  }

  /**
   * Plays `samples` (mono PCM16 at 48 kHz) from the next frame on. Each of `marks` (a sample index)
   * resolves with the wall-clock time the frame holding it was captured; the returned promise
   * resolves when the last sample was.
   */
  play(samples: Int16Array, marks: number[] = []): { done: Promise<number>; marks: Promise<number>[] } {
    const pending: [number, (at: number) => void][] = [];
    const markPromises = marks.map((m) => new Promise<number>((resolve) => pending.push([Math.min(m, samples.length - 1), resolve])));
    const done = new Promise<number>((resolve) => pending.push([samples.length - 1, resolve]));
    this.clip = { samples, offset: 0, marks: pending };
    return { done, marks: markPromises };
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.source.close();
  }

  private async run(): Promise<void> {
    const frameSamples = Microphone.SAMPLE_RATE / 100;
    const started = performance.now();
    let sent = 0;
    while (this.running) {
      const data = new Int16Array(frameSamples);
      const clip = this.clip;
      if (clip) {
        const take = Math.min(frameSamples, clip.samples.length - clip.offset);
        data.set(clip.samples.subarray(clip.offset, clip.offset + take));
        const at = now() + this.source.queuedDuration;
        for (const [index, resolve] of clip.marks) if (index >= clip.offset && index < clip.offset + take) resolve(at);
        clip.offset += take;
        if (clip.offset >= clip.samples.length) this.clip = undefined;
      }
      await this.source.captureFrame(new AudioFrame(data, Microphone.SAMPLE_RATE, 1, frameSamples));
      sent++;
      const ahead = started + sent * 10 - performance.now();
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
  }
}

/**
 * A reference for the transport's own audio/video skew: a participant that publishes a dark frame
 * and silence without a break, and on request a short bright-and-loud pulse whose audio and video
 * are captured in the same tick. What a viewer measures on it is what the test server and the two
 * rtc-node clients add under the same load; the avatar's offset less this one is the worker's share.
 */
export class AvPulses {
  static readonly SAMPLE_RATE = 24_000;
  /** Ticks (40 ms) a pulse lasts. */
  static readonly PULSE_TICKS = 5;
  private readonly audio = new AudioSource(AvPulses.SAMPLE_RATE, 1, 200);
  private readonly video: VideoSource;
  private readonly dark: Uint8Array;
  private readonly bright: Uint8Array;
  private pending: ((at: { videoAt: number; audioAt: number }) => void)[] = [];
  private pulseTicksLeft = 0;
  private running = true;
  private loop: Promise<void> | undefined;

  /** `size`: a small frame keeps the reference cheap; its path is the avatar video's, with less to encode. */
  constructor(private readonly size = 128) {
    this.video = new VideoSource(size, size);
    this.dark = new Uint8Array(size * size * 4).fill(40);
    this.bright = new Uint8Array(size * size * 4).fill(220);
  }

  /**
   * Publishes the two tracks one after the other, each once `arrived(name)` (the server's own view)
   * says the one before it is there. One that has not arrived `ms` after the client was told it is
   * published is published again, once: on a loaded machine, a track published while the
   * participant's first negotiations are still going on sometimes never reaches the test server.
   */
  async publish(room: Room, arrived: (name: string) => boolean = () => true, ms = 10_000): Promise<void> {
    const participant = room.localParticipant!;
    this.loop = this.run();
    const tracks = [
      {
        name: 'reference_video',
        track: () => LocalVideoTrack.createVideoTrack('reference_video', this.video),
        options: new TrackPublishOptions({ source: TrackSource.SOURCE_CAMERA, simulcast: false, videoEncoding: { maxFramerate: 25, maxBitrate: BigInt(300_000) } }),
      },
      { name: 'reference_audio', track: () => LocalAudioTrack.createAudioTrack('reference_audio', this.audio), options: new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }) },
    ];
    for (const { name, track, options } of tracks) {
      for (let attempt = 1; ; attempt++) {
        const publication = await participant.publishTrack(track(), options);
        const deadline = Date.now() + ms;
        while (!arrived(name) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        if (arrived(name)) break;
        if (attempt === 2) throw new Error(`${name} never reached the server (published twice)`);
        await participant.unpublishTrack(publication.sid!);
      }
    }
  }

  /**
   * A pulse from the next tick on. Resolves with when its first video frame was captured and when
   * its first audio starts to leave the source (capture time plus what the source still holds).
   */
  pulse(): Promise<{ videoAt: number; audioAt: number }> {
    return new Promise((resolve) => this.pending.push(resolve));
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.audio.close();
  }

  private async run(): Promise<void> {
    const started = performance.now();
    const samples = AvPulses.SAMPLE_RATE / 25;
    const silence = new Int16Array(samples);
    const tone = new Int16Array(samples);
    for (let i = 0; i < samples; i++) tone[i] = Math.round(8_000 * Math.sin((2 * Math.PI * 440 * i) / AvPulses.SAMPLE_RATE));
    for (let k = 0; this.running; k++) {
      const starting = this.pulseTicksLeft === 0 && this.pending.length > 0 ? this.pending.splice(0) : [];
      if (starting.length > 0) this.pulseTicksLeft = AvPulses.PULSE_TICKS;
      const pulse = this.pulseTicksLeft > 0;
      if (pulse) this.pulseTicksLeft--;
      const videoAt = now();
      this.video.captureFrame(new VideoFrame(pulse ? this.bright : this.dark, this.size, this.size, VideoBufferType.RGBA));
      const audioAt = now() + this.audio.queuedDuration;
      for (const resolve of starting) resolve({ videoAt, audioAt });
      // Awaited: a late tick waits for room in the source instead of piling up behind it.
      await this.audio.captureFrame(new AudioFrame(pulse ? tone : silence, AvPulses.SAMPLE_RATE, 1, samples)).catch(() => undefined);
      const ahead = started + (k + 1) * 40 - performance.now();
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
  }
}

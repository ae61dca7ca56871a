/**
 * Client-side helpers for tests against the test server: connecting rtc-node rooms, bounded waits
 * for room events, and paced audio/video sources. Every wait has a deadline and says what it was
 * waiting for, so a broken server fails a test instead of hanging it.
 */
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  LocalVideoTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoCodec,
  VideoFrame,
  VideoSource,
  type LocalTrack,
  type LocalTrackPublication,
} from '@livekit/rtc-node';
import { FfiRequest, livekitFfiRequest } from '@livekit/rtc-ffi-bindings';
import type { TypedEventEmitter } from '@livekit/typed-emitter';
import type { TestLiveKitServer, TokenOptions } from './index.js';

export { withTimeout } from '../fakes/wait.js';
import { withTimeout } from '../fakes/wait.js';

export async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** rtc-node does not export its event map; it is the one its Room emitter is typed with. */
type RoomCallbacks = Room extends TypedEventEmitter<infer C> ? C : never;
type RoomEventName = keyof RoomCallbacks & string;
type EventArgs<E extends RoomEventName> = Parameters<RoomCallbacks[E]>;

/** The next `event` on `room` whose arguments satisfy `match`; listening starts now. */
export function nextEvent<E extends RoomEventName>(
  room: Room,
  event: E,
  ms: number,
  what: string,
  match: (...args: EventArgs<E>) => boolean = () => true,
): Promise<EventArgs<E>> {
  let listener: ((...args: EventArgs<E>) => void) | undefined;
  const seen = new Promise<EventArgs<E>>((resolve) => {
    listener = (...args: EventArgs<E>) => {
      if (match(...args)) resolve(args);
    };
    room.on(event as never, listener as never);
  });
  return withTimeout(seen, ms, `${event} (${what})`).finally(() => room.off(event as never, listener as never));
}

export interface ConnectedClient {
  room: Room;
  identity: string;
  /** Room.connect() wall time. */
  joinMs: number;
}

export async function connectClient(
  server: Pick<TestLiveKitServer, 'url' | 'token'>,
  token: Omit<TokenOptions, 'room'> & { room: string },
  opts: { autoSubscribe?: boolean; timeoutMs?: number } = {},
): Promise<ConnectedClient> {
  const room = new Room();
  const started = performance.now();
  await withTimeout(
    room.connect(server.url, await server.token(token), { autoSubscribe: opts.autoSubscribe ?? true, dynacast: false }),
    opts.timeoutMs ?? 10_000,
    `${token.identity} to join ${token.room}`,
  );
  return { room, identity: token.identity, joinMs: performance.now() - started };
}

export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return Math.sqrt(sum / samples.length);
}

/**
 * A microphone track fed in real time, 10 ms at a time: silence, a steady tone, or silence with a
 * click on request. Pacing by the wall clock keeps the AudioSource's queue near empty, so the time a
 * frame is captured is (within ~10 ms) the time it leaves the client.
 */
export class PacedAudio {
  static readonly SAMPLE_RATE = 48_000;
  readonly source = new AudioSource(PacedAudio.SAMPLE_RATE, 1, 100);
  readonly track = LocalAudioTrack.createAudioTrack('paced-audio', this.source);
  mode: 'silence' | 'tone' = 'silence';
  private clickAt: ((sentAt: number) => void) | undefined;
  private phase = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor() {
    this.loop = this.run();
  }

  publish(room: Room): Promise<LocalTrackPublication> {
    return room.localParticipant!.publishTrack(this.track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
  }

  /** Sends a 30 ms 1 kHz burst in the next frames; resolves with the time its first frame was sent. */
  click(): Promise<number> {
    return new Promise((resolve) => {
      this.clickAt = resolve;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.source.close();
  }

  private async run(): Promise<void> {
    const frameSamples = PacedAudio.SAMPLE_RATE / 100;
    const started = performance.now();
    let frames = 0;
    let clickFramesLeft = 0;
    while (this.running) {
      const data = new Int16Array(frameSamples);
      if (this.clickAt) {
        const resolve = this.clickAt;
        this.clickAt = undefined;
        clickFramesLeft = 3;
        resolve(Date.now() + this.source.queuedDuration);
      }
      if (this.mode === 'tone' || clickFramesLeft > 0) {
        const freq = clickFramesLeft > 0 ? 1000 : 440;
        for (let i = 0; i < frameSamples; i++) {
          data[i] = Math.round(12_000 * Math.sin(this.phase));
          this.phase += (2 * Math.PI * freq) / PacedAudio.SAMPLE_RATE;
        }
        if (clickFramesLeft > 0) clickFramesLeft--;
      }
      await this.source.captureFrame(new AudioFrame(data, PacedAudio.SAMPLE_RATE, 1, frameSamples));
      frames++;
      const ahead = started + frames * 10 - performance.now();
      if (ahead > 0) await sleep(ahead);
    }
  }
}

/**
 * A camera track at `fps`. `flat`: a solid grey that steps through 8 levels, one per frame (cheap
 * to encode, easy to recognise after a lossy codec). `moving`: a scrolling gradient with noise,
 * closer to camera content for CPU measurements.
 */
export class CyclingVideo {
  readonly source: VideoSource;
  readonly track: LocalVideoTrack;
  framesSent = 0;
  private timer: NodeJS.Timeout;

  constructor(
    readonly width = 320,
    readonly height = 240,
    fps = 15,
    readonly pattern: 'flat' | 'moving' = 'flat',
  ) {
    this.source = new VideoSource(width, height);
    this.track = LocalVideoTrack.createVideoTrack('cycling-video', this.source);
    this.timer = setInterval(() => this.sendFrame(), 1000 / fps);
  }

  publish(room: Room): Promise<LocalTrackPublication> {
    return room.localParticipant!.publishTrack(
      this.track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_CAMERA, simulcast: false, videoCodec: VideoCodec.VP8 }),
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sendFrame(): void {
    const rgba = new Uint8Array(this.width * this.height * 4);
    if (this.pattern === 'flat') {
      // Brightness steps through 8 levels, far apart enough to survive VP8 at any bitrate.
      rgba.fill(16 + (this.framesSent % 8) * 32);
    } else {
      const shift = this.framesSent * 4;
      for (let y = 0; y < this.height; y++) {
        for (let x = 0; x < this.width; x++) {
          const i = (y * this.width + x) * 4;
          const noise = (Math.random() * 24) | 0;
          rgba[i] = ((x + shift) & 255) ^ noise;
          rgba[i + 1] = ((y + shift) & 255) ^ noise;
          rgba[i + 2] = ((x + y) & 255) ^ noise;
        }
      }
    }
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    this.source.captureFrame(new VideoFrame(rgba, this.width, this.height, VideoBufferType.RGBA));
    this.framesSent++;
  }
}

/** Mean of the RGB channels of an RGBA frame. */
export function meanBrightness(frame: VideoFrame): number {
  const rgba = frame.type === VideoBufferType.RGBA ? frame : frame.convert(VideoBufferType.RGBA);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < rgba.data.length; i += 4 * 16) {
    sum += (rgba.data[i]! + rgba.data[i + 1]! + rgba.data[i + 2]!) / 3;
    count++;
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * Mutes or unmutes a local track the way the Rust SDK's `LocalTrackPublication::mute` does (the
 * client then sends MuteTrackRequest). rtc-node 0.13.35 has no JS method for it, but its FFI has the
 * request, so this calls the FFI directly.
 */
export function setLocalTrackMuted(track: LocalTrack, muted: boolean): void {
  const handle = (track as unknown as { ffi_handle: { handle: bigint } }).ffi_handle.handle;
  livekitFfiRequest(new FfiRequest({ message: { case: 'localTrackMute', value: { trackHandle: handle, mute: muted } } }).toBinary());
}

export { RoomEvent };

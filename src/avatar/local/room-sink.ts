import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  LocalVideoTrack,
  type LocalTrackPublication,
  type Room,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoFrame,
  VideoSource,
} from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { RgbaFrame } from '../frames/frame-source.js';
import type { AvatarMediaSink, MediaFormat } from './media-sink.js';

/** Track names other LiveKit avatar workers use, so front ends find them the same way. */
export const AVATAR_VIDEO_TRACK = 'avatar_video';
export const AVATAR_AUDIO_TRACK = 'avatar_audio';
/**
 * The longest a video frame is held for its audio. Each held frame is a copy (1 MB at 512²), so
 * holding for a long backlog (seconds, after the process was starved) would cost 25 MB per second
 * of it; past this, frames are dropped and the face waits on its last frame until the sound
 * catches up.
 */
export const MAX_VIDEO_HOLD_MS = 2_000;

/**
 * Publishes a local avatar into the room: a camera track for the face and a microphone track for
 * the voice. The audio source keeps a short queue (it must, to smooth timer jitter); each video
 * frame is held back by exactly what that queue holds when the frame is made, so a viewer sees
 * the mouth for the sound they hear.
 */
export class RoomMediaSink implements AvatarMediaSink {
  private audioSource: AudioSource | undefined;
  private videoSource: VideoSource | undefined;
  private format: MediaFormat | undefined;
  private publications: LocalTrackPublication[] = [];
  private audioChain: Promise<void> = Promise.resolve();
  /**
   * Audio pushed but still waiting in `audioChain` for the source to take it. The source takes a
   * frame only when its own queue has room, so after the process stalls (ticks come due together)
   * the surplus waits here; it is heard after what the source holds, and counts as queued.
   */
  private chainedSamples = 0;
  /** Bumped by clearAudio(): frames chained before it are dropped instead of captured. */
  private generation = 0;
  /** The last audio pushed: the next video frame's own, which starts playing after the rest. */
  private tickAudioMs = 0;
  private delayed = new Set<NodeJS.Timeout>();
  /** Video frames dropped because their audio was further behind than MAX_VIDEO_HOLD_MS. */
  droppedLate = 0;

  constructor(
    private readonly room: Room,
    private readonly log: Logger,
    private readonly audioQueueMs = 200,
  ) {}

  async start(format: MediaFormat): Promise<void> {
    const participant = this.room.localParticipant;
    if (!participant) throw new Error('RoomMediaSink needs a connected room');
    this.format = format;
    this.audioSource = new AudioSource(format.sampleRate, 1, this.audioQueueMs);
    this.videoSource = new VideoSource(format.width, format.height);
    const video = LocalVideoTrack.createVideoTrack(AVATAR_VIDEO_TRACK, this.videoSource);
    const audio = LocalAudioTrack.createAudioTrack(AVATAR_AUDIO_TRACK, this.audioSource);
    this.publications = await Promise.all([
      participant.publishTrack(
        video,
        new TrackPublishOptions({
          source: TrackSource.SOURCE_CAMERA,
          videoEncoding: { maxFramerate: format.fps, maxBitrate: BigInt(1_200_000) },
          simulcast: false,
        }),
      ),
      participant.publishTrack(audio, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE })),
    ]);
  }

  pushAudio(pcm: Int16Array, speech: boolean): void {
    const source = this.audioSource;
    // Silence is only worth sending to keep the timing of audio already queued (a pause inside a
    // reply). Behind a backlog from a stall (audio waiting in the chain), it would keep that
    // backlog, the lag it adds and the frames held for it, alive for the rest of the call.
    if (!source || (!speech && (this.chainedSamples > 0 || this.queuedAudioMs() === 0))) return;
    const frame = new AudioFrame(pcm, this.format!.sampleRate, 1, pcm.length);
    const generation = this.generation;
    this.chainedSamples += pcm.length;
    this.tickAudioMs = (pcm.length / this.format!.sampleRate) * 1000;
    this.audioChain = this.audioChain
      .then(() => {
        if (generation !== this.generation) return undefined;
        this.chainedSamples -= pcm.length;
        return source.captureFrame(frame);
      })
      .catch((err: unknown) => this.log.warn({ err }, 'avatar audio frame dropped'));
  }

  pushVideo(frame: RgbaFrame, timeMs: number): void {
    const source = this.videoSource;
    if (!source) return;
    // Shown when its audio starts playing: after the audio queued ahead of it.
    const holdMs = this.queuedAudioMs() - this.tickAudioMs;
    this.tickAudioMs = 0;
    const timestampUs = BigInt(Math.round(timeMs * 1000));
    if (holdMs < 5) {
      source.captureFrame(new VideoFrame(frame.data, frame.width, frame.height, VideoBufferType.RGBA), timestampUs);
      return;
    }
    if (holdMs > MAX_VIDEO_HOLD_MS) {
      this.droppedLate++;
      return;
    }
    // The renderer reuses its buffer on the next tick, so a held frame needs its own copy.
    const copy = new VideoFrame(frame.data.slice(), frame.width, frame.height, VideoBufferType.RGBA);
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      source.captureFrame(copy, timestampUs);
    }, holdMs);
    this.delayed.add(timer);
  }

  clearAudio(): void {
    this.generation++;
    this.chainedSamples = 0;
    this.tickAudioMs = 0;
    this.audioSource?.clearQueue();
  }

  /** Video frames held (copied) until their audio plays. */
  get heldFrames(): number {
    return this.delayed.size;
  }

  queuedAudioMs(): number {
    const chainedMs = this.format ? (this.chainedSamples / this.format.sampleRate) * 1000 : 0;
    return (this.audioSource?.queuedDuration ?? 0) + chainedMs;
  }

  async close(): Promise<void> {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    const participant = this.room.localParticipant;
    if (participant && this.room.isConnected) {
      for (const pub of this.publications) {
        if (pub.sid) await participant.unpublishTrack(pub.sid).catch(() => undefined);
      }
    }
    await this.audioSource?.close();
    this.audioSource = undefined;
    this.videoSource = undefined;
  }
}

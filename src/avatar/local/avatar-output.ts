import type { AudioFrame } from '@livekit/rtc-node';
import { voice } from '@livekit/agents';
import type { Logger } from 'pino';
import { downmixInterleaved } from '../../audio/pcm.js';
import { Backpressure } from '../../audio/backpressure.js';
import { PcmQueue } from '../../audio/pcm-queue.js';
import { PcmTail } from '../../audio/pcm-tail.js';
import type { AvatarAnimator } from './animator.js';
import type { AvatarMediaSink } from './media-sink.js';
import { FrameTicker } from './ticker.js';

/** Per-segment timing, for the latency breakdown of a turn. */
export interface SegmentTimings {
  /** Wall clock (Date.now()) when the first TTS audio of the segment reached the avatar. */
  firstAudioAt: number;
  /** Wall clock when the first video frame that speaks this segment was handed to the sink. */
  firstSpeakingFrameAt: number;
}

export interface LocalAvatarOutputOptions {
  animator: AvatarAnimator;
  sink: AvatarMediaSink;
  logger: Logger;
  /** Longest reply audio held ahead of playout; beyond it captureFrame waits (backpressure). */
  maxQueuedMs?: number;
}

/**
 * The local avatar family's audio output: AgentSession hands it TTS audio as fast as the TTS
 * makes it; it plays that audio out in real time, one video tick at a time, and for every tick
 * renders the frame whose mouth matches exactly the audio of that tick. Audio and frame leave
 * together, so lips match speech by construction; the sink holds video back by the audio it
 * still has queued.
 *
 * Segments follow AgentSession's contract: frames between two flush() calls are one segment, and
 * each segment ends with exactly one playbackFinished (interrupted or not).
 */
export class LocalAvatarOutput extends voice.AudioOutput {
  private readonly animator: AvatarAnimator;
  private readonly sink: AvatarMediaSink;
  private readonly log: Logger;
  private readonly maxQueuedSamples: number;
  private readonly ticker: FrameTicker;

  /** Audio of the current segment not yet played, in order. */
  private readonly pending = new PcmQueue();
  /** The segment's audio most recently handed to the sink, which may still be unheard there. */
  private readonly handedOn: PcmTail;
  private pushedSamples = 0;
  private playedSamples = 0;
  private segmentActive = false;
  private segmentFlushed = false;
  private startedReported = false;
  private firstAudioAt = 0;
  private frameIndex = 0;
  /** Holds the TTS while more than maxQueuedSamples wait to play. */
  private readonly backpressure = new Backpressure(() => this.pending.samples > this.maxQueuedSamples);
  private closed = false;
  private paused = false;

  constructor(opts: LocalAvatarOutputOptions) {
    // Pausable, so a false interruption (a cough, an "uh-huh") can pause the avatar and resume it.
    super(opts.animator.sampleRate, undefined, { pause: true });
    this.animator = opts.animator;
    this.sink = opts.sink;
    this.log = opts.logger;
    this.maxQueuedSamples = Math.round(((opts.maxQueuedMs ?? 20_000) / 1000) * opts.animator.sampleRate);
    this.ticker = new FrameTicker(opts.animator.fps, (due) => this.onTick(due));
    // A sink holds well under a second (RoomMediaSink: 200 ms of queue plus the tick being chained).
    this.handedOn = new PcmTail(opts.animator.sampleRate);
  }

  /** Publish/open the sink and start the video clock: the avatar idles (blinks, breathes) at once. */
  async start(): Promise<void> {
    const { frames, fps, sampleRate } = this.animator;
    await this.sink.start({ width: frames.width, height: frames.height, fps, sampleRate });
    this.ticker.start();
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    if (this.closed) return;
    await super.captureFrame(frame);
    if (frame.sampleRate !== this.animator.sampleRate) {
      // AgentSession resamples to this output's sampleRate; anything else is a wiring bug.
      throw new Error(`LocalAvatarOutput expects ${this.animator.sampleRate} Hz audio, got ${frame.sampleRate} Hz`);
    }
    if (!this.segmentActive) {
      this.segmentActive = true;
      this.segmentFlushed = false;
      this.startedReported = false;
      this.pushedSamples = 0;
      this.playedSamples = 0;
      this.handedOn.clear();
      this.firstAudioAt = Date.now();
    }
    const mono = downmixInterleaved(frame.data, frame.channels);
    this.pending.push(mono);
    this.pushedSamples += mono.length;
    // The reply's first tick plays now, once it has a whole tick of audio, instead of at the next
    // tick of the idle clock (up to a frame, 33 ms at 30 fps, on every turn's latency).
    if (!this.startedReported && !this.paused && this.pending.samples >= this.animator.samplesPerFrame) this.ticker.tickNow();
    await this.backpressure.wait(() => this.segmentActive && !this.closed);
  }

  override flush(): void {
    super.flush();
    if (!this.segmentActive) return;
    this.segmentFlushed = true;
  }

  override clearBuffer(): void {
    if (!this.segmentActive) return;
    // What the listener heard: audio played out of this output, less what the sink still holds.
    const unheard = (this.sink.queuedAudioMs() / 1000) * this.animator.sampleRate;
    const heard = Math.max(0, this.playedSamples - unheard);
    this.dropPending();
    this.sink.clearAudio();
    this.animator.closeMouth();
    // A flush() that arrives after an interruption must not open a phantom segment.
    super.flush();
    this.segmentActive = false;
    this.segmentFlushed = false;
    this.finishSegment(heard / this.animator.sampleRate, true);
  }

  override pause(): void {
    if (this.paused) return;
    this.paused = true;
    // The sink's queue is dropped so the voice stops now, not after it; what it held goes back to
    // the head of the reply, so a resume (a cough, not a barge-in) picks up where the listener
    // stopped hearing it instead of skipping a syllable or two.
    if (this.segmentActive) {
      const unheard = this.handedOn.takeLast((this.sink.queuedAudioMs() / 1000) * this.animator.sampleRate);
      this.pending.unshift(unheard);
      this.playedSamples -= unheard.length;
    }
    this.sink.clearAudio();
  }

  override resume(): void {
    this.paused = false;
  }

  /** Emitted once per segment, when its first speaking frame is handed to the sink. */
  onSegmentTimings(listener: (t: SegmentTimings) => void): void {
    this.on('segment_timings', listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker.stop();
    this.dropPending();
    await this.sink.close();
  }

  private onTick(due: number): void {
    // When the process was starved and several ticks are due at once, the audio of every tick
    // still plays (it is the conversation), but only the newest frame is drawn: late frames drop.
    for (let i = 0; i < due; i++) this.playTick(i === due - 1);
  }

  private playTick(draw: boolean): void {
    const n = this.animator.samplesPerFrame;
    const pcm = new Int16Array(n);
    // While paused the reply waits where it stopped and the avatar idles with a closed mouth.
    const real = this.paused ? 0 : this.pending.take(pcm);
    const speaking = real > 0;
    const { frame } = this.animator.step(pcm, this.frameIndex, speaking, draw);
    this.sink.pushAudio(pcm, speaking);
    if (frame) this.sink.pushVideo(frame, (this.frameIndex * 1000) / this.animator.fps);
    this.frameIndex++;

    if (speaking) {
      this.playedSamples += real;
      this.handedOn.push(pcm.subarray(0, real));
      if (!this.startedReported) {
        this.startedReported = true;
        const now = Date.now();
        this.onPlaybackStarted(now + this.sink.queuedAudioMs());
        this.emit('segment_timings', { firstAudioAt: this.firstAudioAt, firstSpeakingFrameAt: now } satisfies SegmentTimings);
      }
    }
    if (this.segmentActive && this.segmentFlushed && this.pending.samples === 0) {
      // The last tick is handed over; it is heard once the sink has played what it holds.
      const position = this.pushedSamples / this.animator.sampleRate;
      this.segmentActive = false;
      const finish = () => this.finishSegment(position, false);
      const holdMs = this.sink.queuedAudioMs();
      if (holdMs > 1) setTimeout(finish, holdMs).unref();
      else finish();
    }
    this.backpressure.release();
  }

  private dropPending(): void {
    this.pending.clear();
    this.handedOn.clear();
    this.backpressure.release();
  }

  /** Callers have already closed the segment; a new one may be under way when this runs. */
  private finishSegment(playbackPosition: number, interrupted: boolean): void {
    this.log.debug({ playbackPosition, interrupted }, 'avatar playback finished');
    this.onPlaybackFinished({ playbackPosition, interrupted });
  }
}

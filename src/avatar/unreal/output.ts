/**
 * The Unreal bridge's audio output (the local family's LocalOutput): AgentSession hands it TTS
 * audio as fast as the TTS makes it; every 10 ms it sends the next 10 ms to Unreal as the
 * player's microphone (real time, as a microphone would), and hands the same audio to the media
 * sink once Unreal has had time to show the mouth for it (the delay line). Unreal's frames go to
 * the sink as they arrive, so the listener sees and hears each sound together.
 *
 * Segments follow AgentSession's contract: audio between two flush() calls is one segment, and
 * each ends with exactly one playbackFinished (interrupted or not) with the position heard.
 */
import type { AudioFrame } from '@livekit/rtc-node';
import { voice } from '@livekit/agents';
import wrtc from '@roamhq/wrtc';
import type { Logger } from 'pino';
import { downmixInterleaved } from '../../audio/pcm.js';
import { Backpressure } from '../../audio/backpressure.js';
import { PcmQueue } from '../../audio/pcm-queue.js';
import type { LocalOutput } from '../contract.js';
import type { SegmentTimings } from '../local/avatar-output.js';
import type { AvatarMediaSink } from '../local/media-sink.js';
import { FrameTicker } from '../local/ticker.js';
import { BlendshapeStream } from './blendshape-stream.js';
import { encodeUIInteraction } from './data-channel.js';
import { DelayLine } from './delay-line.js';
import type { UnrealLink } from './link.js';
import type { I420Frame } from './player-peer.js';
import type { UnrealProfile } from './profiles.js';
import type { AvatarInteraction } from './ui-interaction.js';

const { i420ToRgba } = wrtc.nonstandard;

/** One tick of microphone audio: WebRTC's own frame size. */
const CHUNK_MS = 10;
/** How often the transport delay is measured (WebRTC stats). */
const MEASURE_EVERY_MS = 2_000;

export interface UnrealOutputOptions {
  link: UnrealLink;
  sink: AvatarMediaSink;
  profile: Pick<UnrealProfile, 'fps' | 'sampleRate' | 'audioDelay' | 'blendshapes'>;
  logger: Logger;
  /** Longest reply audio held ahead of playout; beyond it captureFrame waits (backpressure). */
  maxQueuedMs?: number;
}

/** What the bridge did, for metrics, the bench and tests. */
export interface BridgeStats {
  framesIn: number;
  /** Time from a decoded frame arriving to it being handed to the sink, ms (last 600 frames). */
  bridgeMsP50: number;
  bridgeMsP95: number;
  /** The current hold on the agent's voice, ms. */
  audioDelayMs: number;
}

export class UnrealAvatarOutput extends voice.AudioOutput implements LocalOutput {
  private readonly link: UnrealLink;
  private readonly sink: AvatarMediaSink;
  private readonly log: Logger;
  private readonly rate: number;
  private readonly fps: number;
  private readonly chunkSamples: number;
  private readonly maxQueuedSamples: number;
  private readonly ticker: FrameTicker;
  private readonly delay: DelayLine<number>;
  private readonly blendshapes: BlendshapeStream | undefined;
  private readonly delaySettings: UnrealProfile['audioDelay'];
  private measuredDelayMs: number | undefined;
  private measureTimer: NodeJS.Timeout | undefined;

  private readonly pending = new PcmQueue();
  /** 1, 2, 3...: the segment being captured (0 before the first). */
  private segment = 0;
  private segmentActive = false;
  private segmentFlushed = false;
  private pushedSamples = 0;
  /** Samples of the current segment handed to the sink (heard, less what the sink still holds). */
  private deliveredSamples = 0;
  private startedReported = false;
  private timingsOwed = false;
  private firstAudioAt = 0;
  private startedAt = 0;
  private rgba: Uint8Array = new Uint8Array(0);
  /** Holds the TTS while more than maxQueuedSamples wait to play. */
  private readonly backpressure = new Backpressure(() => this.pending.samples > this.maxQueuedSamples);
  private bridgeMs: number[] = [];
  private framesIn = 0;
  private started = false;
  private closed = false;
  private readonly onFrame = (frame: I420Frame, receivedAt: number) => this.pushFrame(frame, receivedAt);

  constructor(opts: UnrealOutputOptions) {
    super(opts.profile.sampleRate);
    this.link = opts.link;
    this.sink = opts.sink;
    this.log = opts.logger;
    this.rate = opts.profile.sampleRate;
    this.fps = opts.profile.fps;
    this.chunkSamples = (this.rate * CHUNK_MS) / 1000;
    this.maxQueuedSamples = Math.round(((opts.maxQueuedMs ?? 20_000) / 1000) * this.rate);
    this.ticker = new FrameTicker(1000 / CHUNK_MS, (due) => this.onTick(due));
    this.delay = new DelayLine<number>(CHUNK_MS);
    this.delaySettings = opts.profile.audioDelay;
    this.delay.setDelayMs(this.targetDelayMs());
    if (opts.profile.blendshapes) {
      this.blendshapes = new BlendshapeStream(this.rate, opts.profile.fps, (i) => this.interact(i));
    }
  }

  /** Opens the sink at the stream's size and starts the clocks. Call once the link streams. */
  async start(): Promise<void> {
    const { width, height } = this.link.frameSize;
    await this.sink.start({ width: width || 1280, height: height || 720, fps: this.fps, sampleRate: this.rate });
    this.started = true;
    this.startedAt = performance.now();
    this.link.on('frame', this.onFrame);
    this.ticker.start();
    if (this.delaySettings.measureTransport) {
      void this.measure();
      this.measureTimer = setInterval(() => void this.measure(), MEASURE_EVERY_MS);
      this.measureTimer.unref();
    }
  }

  /** The current hold on the agent's voice (lip-sync delay plus measured transport), ms. */
  get audioDelayMs(): number {
    return this.delay.delayMs;
  }

  stats(): BridgeStats {
    const sorted = [...this.bridgeMs].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
    return { framesIn: this.framesIn, bridgeMsP50: at(0.5), bridgeMsP95: at(0.95), audioDelayMs: this.audioDelayMs };
  }

  /** Sends a UIInteraction (emotion, gesture...) to Unreal; false when no data channel is open. */
  interact(interaction: AvatarInteraction): boolean {
    return this.link.send(encodeUIInteraction(interaction));
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    if (this.closed) return;
    await super.captureFrame(frame);
    if (frame.sampleRate !== this.rate) {
      // AgentSession resamples to this output's sampleRate; anything else is a wiring bug.
      throw new Error(`UnrealAvatarOutput expects ${this.rate} Hz audio, got ${frame.sampleRate} Hz`);
    }
    if (!this.segmentActive) {
      this.segment++;
      this.segmentActive = true;
      this.segmentFlushed = false;
      this.startedReported = false;
      this.timingsOwed = false;
      this.pushedSamples = 0;
      this.deliveredSamples = 0;
      this.firstAudioAt = Date.now();
      this.interact({ type: 'speech', event: 'start', segment: this.segment });
    }
    const mono = downmixInterleaved(frame.data, frame.channels);
    this.pending.push(mono);
    this.pushedSamples += mono.length;
    await this.backpressure.wait(() => this.segmentActive && !this.closed);
  }

  override flush(): void {
    super.flush();
    if (!this.segmentActive) return;
    this.segmentFlushed = true;
  }

  override clearBuffer(): void {
    if (!this.segmentActive) return;
    const segment = this.segment;
    // Heard: what reached the sink, less what the sink still holds. Unreal already has what sits
    // in the delay line, but the listener never hears it.
    const unheard = (this.sink.queuedAudioMs() / 1000) * this.rate;
    const heard = Math.max(0, this.deliveredSamples - unheard);
    this.dropPending();
    this.delay.silence((tag) => tag === segment);
    this.sink.clearAudio();
    this.blendshapes?.reset();
    this.interact({ type: 'speech', event: 'interrupted', segment });
    // A flush() that arrives after an interruption must not open a phantom segment.
    super.flush();
    this.segmentActive = false;
    this.segmentFlushed = false;
    this.finishSegment(heard / this.rate, true);
  }

  onSegmentTimings(listener: (t: SegmentTimings) => void): void {
    this.on('segment_timings', listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker.stop();
    clearInterval(this.measureTimer);
    this.link.off('frame', this.onFrame);
    this.dropPending();
    if (this.segmentActive) {
      // The session is told where its last segment stopped, whatever closes us.
      this.segmentActive = false;
      this.finishSegment(Math.max(0, this.deliveredSamples - (this.sink.queuedAudioMs() / 1000) * this.rate) / this.rate, true);
    }
    if (this.started) await this.sink.close();
  }

  private targetDelayMs(): number {
    const { lipSyncMs, maxMs } = this.delaySettings;
    return Math.min(maxMs, lipSyncMs + (this.measuredDelayMs ?? 0));
  }

  private async measure(): Promise<void> {
    try {
      const { rttMs, jitterBufferMs } = await this.link.transportDelay();
      if (rttMs === undefined && jitterBufferMs === undefined) return;
      // Speech reaches Unreal half a round trip later; its frame comes back the other half and
      // then waits in our jitter buffer.
      const transport = (rttMs ?? 0) + (jitterBufferMs ?? 0);
      // Smoothed: one late frame must not move the voice.
      this.measuredDelayMs = this.measuredDelayMs === undefined ? transport : this.measuredDelayMs * 0.7 + transport * 0.3;
      this.delay.setDelayMs(this.targetDelayMs());
    } catch (err) {
      this.log.debug({ err }, 'could not read WebRTC stats for the Unreal audio delay');
    }
  }

  private onTick(due: number): void {
    // A starved process still plays every tick's audio: it is the conversation.
    for (let i = 0; i < due; i++) this.playChunk();
  }

  private playChunk(): void {
    const pcm = new Int16Array(this.chunkSamples);
    const real = this.pending.take(pcm);
    const speech = real > 0;
    this.link.sendMic(pcm, this.rate);
    this.blendshapes?.push(pcm, speech);
    const out = this.delay.push({ pcm, speech, tag: this.segment });
    if (out) this.hear(out.pcm, out.speech, out.tag);
    this.maybeFinish();
    this.backpressure.release();
  }

  /** A chunk leaves the delay line: the listener hears it (after what the sink holds). */
  private hear(pcm: Int16Array, speech: boolean, segment: number): void {
    this.sink.pushAudio(pcm, speech);
    if (!speech || segment !== this.segment || !this.segmentActive) return;
    this.deliveredSamples += pcm.length;
    if (!this.startedReported) {
      this.startedReported = true;
      this.timingsOwed = true;
      this.onPlaybackStarted(Date.now() + this.sink.queuedAudioMs());
    }
  }

  private maybeFinish(): void {
    if (!this.segmentActive || !this.segmentFlushed || this.pending.samples > 0) return;
    const segment = this.segment;
    if (this.delay.holds((tag) => tag === segment)) return;
    // All of it has gone to the sink; it is heard once the sink has played what it holds.
    const position = this.pushedSamples / this.rate;
    this.segmentActive = false;
    this.interact({ type: 'speech', event: 'end', segment });
    const finish = () => this.finishSegment(position, false);
    const holdMs = this.sink.queuedAudioMs();
    if (holdMs > 1) setTimeout(finish, holdMs).unref();
    else finish();
  }

  private pushFrame(frame: I420Frame, receivedAt: number): void {
    if (this.closed) return;
    this.framesIn++;
    const size = frame.width * frame.height * 4;
    if (this.rgba.length !== size) this.rgba = new Uint8Array(size);
    const rgba = { width: frame.width, height: frame.height, data: this.rgba };
    i420ToRgba(frame, rgba);
    this.sink.pushVideo(rgba, performance.now() - this.startedAt);
    const now = performance.now();
    this.bridgeMs.push(now - receivedAt);
    if (this.bridgeMs.length > 600) this.bridgeMs.shift();
    if (this.timingsOwed) {
      this.timingsOwed = false;
      this.emit('segment_timings', { firstAudioAt: this.firstAudioAt, firstSpeakingFrameAt: Date.now() } satisfies SegmentTimings);
    }
  }

  private dropPending(): void {
    this.pending.clear();
    this.backpressure.release();
  }

  private finishSegment(playbackPosition: number, interrupted: boolean): void {
    this.log.debug({ playbackPosition, interrupted }, 'unreal avatar playback finished');
    this.onPlaybackFinished({ playbackPosition, interrupted });
  }
}

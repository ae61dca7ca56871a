import { concatPcm } from '../../audio/pcm.js';
import type { RgbaFrame } from '../frames/frame-source.js';
import type { AvatarMediaSink, MediaFormat } from './media-sink.js';

export interface RecordedFrame {
  /** Presentation time on the avatar clock. */
  timeMs: number;
  /** Wall clock when the sink received it. */
  wallMs: number;
  /** Was the audio of this tick speech? */
  speech: boolean;
  /** Index in `audio` of the tick this frame belongs to (late frames are dropped, audio never is). */
  tick: number;
  /** Luma of the frame, downscaled by `thumbnailScale`: enough to measure motion, cheap to keep. */
  luma: Uint8Array;
}

/**
 * Keeps what a local avatar produced, in memory: every tick's audio and a small luma copy of
 * every frame, each frame tagged with its tick. For tests, benchmarks and the `converse` harness.
 */
export class MemoryMediaSink implements AvatarMediaSink {
  format: MediaFormat | undefined;
  readonly frames: RecordedFrame[] = [];
  readonly audio: Int16Array[] = [];
  /** The latest full frame, copied, for snapshots. */
  lastFrame: RgbaFrame | undefined;
  clears = 0;
  private pendingSpeech = false;

  constructor(readonly thumbnailScale = 4) {}

  async start(format: MediaFormat): Promise<void> {
    this.format = format;
  }

  pushAudio(pcm: Int16Array, speech: boolean): void {
    this.audio.push(pcm.slice());
    this.pendingSpeech = speech;
  }

  pushVideo(frame: RgbaFrame, timeMs: number): void {
    this.frames.push({ timeMs, wallMs: Date.now(), speech: this.pendingSpeech, tick: this.audio.length - 1, luma: downscaleLuma(frame, this.thumbnailScale) });
    this.lastFrame = { width: frame.width, height: frame.height, data: frame.data.slice() };
  }

  clearAudio(): void {
    this.clears++;
  }

  queuedAudioMs(): number {
    return 0;
  }

  async close(): Promise<void> {}

  /** All audio as one buffer, silence included, aligned with the frames from the first tick. */
  allAudio(): Int16Array {
    return concatPcm(this.audio);
  }
}

export function downscaleLuma(frame: RgbaFrame, scale: number): Uint8Array {
  const w = Math.floor(frame.width / scale);
  const h = Math.floor(frame.height / scale);
  const out = new Uint8Array(w * h);
  const d = frame.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = ((y * scale) * frame.width + x * scale) * 4;
      out[y * w + x] = (d[i]! * 77 + d[i + 1]! * 150 + d[i + 2]! * 29) >> 8;
    }
  }
  return out;
}

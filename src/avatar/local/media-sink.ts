import type { RgbaFrame } from '../frames/frame-source.js';

export interface MediaFormat {
  width: number;
  height: number;
  fps: number;
  /** Mono PCM16 sample rate of the audio handed to the sink. */
  sampleRate: number;
}

/**
 * Where a local avatar's picture and voice go: the room (published tracks), a file, or memory.
 * The avatar output calls it once per video tick with the frame and exactly the audio that plays
 * during that frame, so a sink that keeps both in order keeps them in sync.
 */
export interface AvatarMediaSink {
  start(format: MediaFormat): Promise<void>;
  /**
   * One tick of audio (sampleRate / fps samples). `speech` is false for the silence between
   * replies, which a live sink may skip and a file sink must write to keep its timeline.
   */
  pushAudio(pcm: Int16Array, speech: boolean): void;
  /** The frame that shows the mouth for the audio pushed in the same tick. */
  pushVideo(frame: RgbaFrame, timeMs: number): void;
  /** Drop audio not yet heard (interruption). */
  clearAudio(): void;
  /** Audio pushed but not yet heard, in milliseconds: how far video must be held back to match. */
  queuedAudioMs(): number;
  close(): Promise<void>;
}

import type { FrameSource, RgbaFrame } from '../frames/frame-source.js';
import type { Blendshapes } from '../visemes/blendshapes.js';
import type { VisemeEngine } from '../visemes/engine.js';

export interface AnimatedFrame {
  mouth: Blendshapes;
  /** Undefined when the caller asked to skip drawing (a late tick that will be dropped). */
  frame?: RgbaFrame;
}

/**
 * One step of a local avatar: the audio of one video frame in, the mouth and the picture out.
 * Shared by the live output (paced by a clock) and the offline renderer (as fast as it can go),
 * so a file rendered with `npm run render` shows exactly what a room would see.
 */
export class AvatarAnimator {
  constructor(
    readonly frames: FrameSource,
    private readonly visemes: VisemeEngine,
    readonly fps: number,
    readonly sampleRate: number,
  ) {}

  get samplesPerFrame(): number {
    return Math.round(this.sampleRate / this.fps);
  }

  step(pcm: Int16Array, frameIndex: number, speaking: boolean, draw = true): AnimatedFrame {
    const mouth = this.visemes.frame(pcm, this.sampleRate);
    if (!draw) return { mouth };
    const timeMs = (frameIndex * 1000) / this.fps;
    return { mouth, frame: this.frames.render({ timeMs, mouth, speaking }) };
  }

  /** Interruption: the very next frame shows a closed mouth. */
  closeMouth(): void {
    this.visemes.reset();
  }
}

/**
 * ARKit mouth blendshapes for Unreal, from the same speech Unreal hears: the viseme engine reads
 * the microphone audio one video frame at a time and each frame goes out as a UIInteraction, so
 * a project that animates the face from blendshapes (rather than from audio) stays in step.
 */
import { createVisemeEngine, type VisemeEngine } from '../visemes/index.js';
import { compactWeights, type AvatarInteraction } from './ui-interaction.js';

export class BlendshapeStream {
  private readonly engine: VisemeEngine;
  private readonly samplesPerFrame: number;
  private frame: Int16Array;
  private filled = 0;
  private speechInFrame = false;
  private seq = 0;
  /** A neutral frame is owed after speech, so the mouth closes when the reply ends. */
  private mouthOpen = false;

  constructor(
    private readonly sampleRate: number,
    private readonly fps: number,
    private readonly send: (interaction: AvatarInteraction) => void,
  ) {
    this.engine = createVisemeEngine({ fps });
    this.samplesPerFrame = Math.round(sampleRate / fps);
    this.frame = new Int16Array(this.samplesPerFrame);
  }

  /** The audio sent to Unreal this tick, in order (silence included, to keep the frame clock). */
  push(pcm: Int16Array, speech: boolean): void {
    let at = 0;
    while (at < pcm.length) {
      const take = Math.min(pcm.length - at, this.samplesPerFrame - this.filled);
      this.frame.set(pcm.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      this.speechInFrame ||= speech;
      if (this.filled === this.samplesPerFrame) this.emitFrame();
    }
  }

  /** Interruption: forget the engine's history and close the mouth now. */
  reset(): void {
    this.engine.reset();
    this.filled = 0;
    this.speechInFrame = false;
    if (this.mouthOpen) this.sendWeights({});
    this.mouthOpen = false;
  }

  private emitFrame(): void {
    const speech = this.speechInFrame;
    this.filled = 0;
    this.speechInFrame = false;
    if (!speech) {
      if (this.mouthOpen) {
        this.engine.reset();
        this.sendWeights({});
        this.mouthOpen = false;
      }
      return;
    }
    this.mouthOpen = true;
    this.sendWeights(compactWeights(this.engine.frame(this.frame, this.sampleRate)));
  }

  private sendWeights(weights: ReturnType<typeof compactWeights>): void {
    this.send({ type: 'blendshapes', seq: this.seq++, fps: this.fps, weights });
  }
}

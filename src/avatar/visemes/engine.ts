import type { Blendshapes } from './blendshapes.js';

/**
 * Turns speech audio into mouth shapes, one video frame at a time. It reads the audio itself
 * (energy and spectral shape), so it works with any TTS, any voice, any language.
 */
export interface VisemeEngine {
  /**
   * The mouth for one video frame. `pcm` is the mono PCM16 audio that plays during that frame
   * (its length is sampleRate / fps samples; zeros for silence).
   */
  frame(pcm: Int16Array, sampleRate: number): Blendshapes;
  /** Forget all history (interruption): the next frame starts from a closed mouth. */
  reset(): void;
}

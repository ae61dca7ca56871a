import type { Blendshapes } from '../visemes/blendshapes.js';

/** A frame of video in RGBA, row-major, 4 bytes a pixel, no padding. */
export interface RgbaFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface FrameRequest {
  /** Presentation time of this frame on the avatar's clock, milliseconds from the session start. */
  timeMs: number;
  /** Mouth weights for the audio that plays during this frame. */
  mouth: Blendshapes;
  /** True while the avatar is speaking (idle motion may calm down, eyes stay engaged). */
  speaking: boolean;
}

/**
 * Produces the avatar's pictures. The local family asks for one frame per video tick; a frame
 * source never sees the room, so the same source renders into a room, a file, or a test.
 */
export interface FrameSource {
  readonly width: number;
  readonly height: number;
  render(request: FrameRequest): RgbaFrame;
  close?(): Promise<void>;
}

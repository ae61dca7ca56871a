import type { Blendshapes } from '../../../src/avatar/visemes/blendshapes';

/** One animation frame's input: the clock, the mouth from the received voice, and whether the agent speaks. */
export interface AvatarFrame {
  timeMs: number;
  mouth: Blendshapes;
  speaking: boolean;
}

/** A pixel rect on the canvas. */
export interface CanvasRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** An avatar drawn on the page's canvas, one frame per animation frame. */
export interface AvatarRenderer {
  draw(frame: AvatarFrame): void;
  /** Where the lips are on the canvas at rest (tests measure the mouth there). */
  readonly lips: CanvasRect;
  close(): void;
}

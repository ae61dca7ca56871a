import type { Blendshapes } from '../../visemes/blendshapes.js';
import type { FrameRequest, FrameSource, RgbaFrame } from '../frame-source.js';
import type { MouthState } from './face-svg.js';
import { mouthStateFor, planBuiltinFace, type BuiltinFaceOptions, type BuiltinFacePose, type Rect } from './face-plan.js';
import { blit, rasterize, spriteFromSvg, type Sprite } from './sprite.js';

export { mouthStateFor, type BuiltinFaceOptions, type BuiltinFacePose, type Rect } from './face-plan.js';

export interface BuiltinFace extends FrameSource {
  /** Rects at rest (no motion): the lips, each eye, the whole mouth sprite. */
  readonly layout: { lips: Rect; eyeLeft: Rect; eyeRight: Rect; mouthSprite: Rect; head: Rect };
  /** Number of pre-rendered mouth sprites. */
  readonly mouthSpriteCount: number;
  /** Milliseconds spent rasterising the SVG layers at start-up. */
  readonly startupMs: number;
  /** The motion/blink state for a request (what render() draws). */
  pose(request: FrameRequest): BuiltinFacePose;
  /** The mouth-grid cell render() picks for some blendshapes. */
  mouthState(mouth: Blendshapes): MouthState;
}

/**
 * The built-in 2D avatar: a friendly stylised face drawn by code (./face-plan.ts). All SVG is
 * rasterised once at start-up (base layers, eye sprites for blink states × gaze, a grid of mouth
 * sprites); a frame is a background copy plus a handful of sprite blits, well under a millisecond
 * at 512×512.
 *
 * Frames are double-buffered: the `RgbaFrame` (and its `data`) returned by `render()` stays valid
 * until the second-next call to `render()`, then its memory is reused. Copy it if you keep it longer.
 */
export function createBuiltinFace(opts: BuiltinFaceOptions = {}): BuiltinFace {
  const t0 = performance.now();
  const plan = planBuiltinFace(opts);
  const { width, height } = plan;
  const bgPixels = rasterize(plan.background.svg).pixels;
  const sprites: Sprite[] = plan.layers.map((l) => spriteFromSvg(l.x, l.y, l.svg));

  const frames: RgbaFrame[] = [0, 1].map(() => ({ width, height, data: new Uint8Array(width * height * 4) }));
  let flip = 0;

  const render = (req: FrameRequest): RgbaFrame => {
    const frame = frames[flip]!;
    flip ^= 1;
    const out = frame.data;
    out.set(bgPixels);
    for (const d of plan.draws(req)) blit(out, width, height, sprites[d.layer.id]!, d.dx, d.dy);
    return frame;
  };

  const startupMs = performance.now() - t0;
  return {
    width,
    height,
    render,
    pose: plan.pose,
    mouthState: mouthStateFor,
    startupMs,
    mouthSpriteCount: plan.mouthSpriteCount,
    layout: plan.layout,
    async close() {},
  };
}

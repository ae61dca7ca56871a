/**
 * The built-in face as a plan: every layer (an SVG document cropped to its pixel rect), the pose
 * (blinks, gaze, idle motion, breathing) for a moment, and which layers a frame draws, where.
 * Browser-safe (no Node, no rasteriser): the worker's face (./face.ts) rasterises the layers with
 * resvg and blits them; the page's face2d renderer (web/src/avatar/face2d.ts) decodes the same
 * documents into bitmaps and draws them on a canvas. One drawing, two rasterisers.
 */
import type { Blendshapes } from '../../visemes/blendshapes.js';
import type { FrameRequest } from '../frame-source.js';
import {
  LAYOUT,
  background,
  body,
  brow,
  document,
  eye,
  head,
  mouth,
  paletteFor,
  type FacePalette,
  type FaceStyle,
  type MouthState,
  type Viewport,
} from './face-svg.js';
import { EventSchedule, blinkClosure, rand, wobble } from './motion.js';

export interface BuiltinFaceOptions {
  /** Frame width in pixels (default 512). */
  width?: number;
  /** Frame height in pixels (default = width). The face is scaled to fit min(width, height), shoulders at the bottom. */
  height?: number;
  /** Seed for blinks, gaze and idle motion (default 1). Same seed + same requests = same frames. */
  seed?: number;
  /** Simple colours (skin, hair, eyes, shirt, background); shades are derived from them. */
  style?: FaceStyle;
  /** Exact colour overrides, applied after `style`. */
  palette?: Partial<FacePalette>;
  /** Scale of idle head motion and breathing; 0 keeps the head still (default 1). */
  motion?: number;
}

/** Pixel rect on the frame. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Where things are and how the face moves; exposed for tests, tools and other renderers. */
export interface BuiltinFacePose {
  /** Head offset in pixels (eyes, brows and mouth move with it). */
  headDx: number;
  headDy: number;
  /** Shoulders/body offset (breathing). */
  bodyDy: number;
  /** Eyelid closure 0..1 actually drawn (quantised to the eye sprites). */
  lid: number;
  /** Gaze index into the gaze table (0 = straight at the camera). */
  gaze: number;
  /** Brow raise in pixels (up). */
  browRaise: number;
}

/** One layer: an SVG document of its own size, drawn with its top-left corner at (x, y) plus the draw's offset. */
export interface FaceLayer {
  /** Index in `FacePlan.layers`. */
  id: number;
  x: number;
  y: number;
  svg: string;
}

/** A layer to draw for a frame, at an offset (head motion, breathing, brow raise). */
export interface FaceDraw {
  layer: FaceLayer;
  dx: number;
  dy: number;
}

export interface FacePlan {
  readonly width: number;
  readonly height: number;
  /** Every layer, the opaque full-frame background first. */
  readonly layers: readonly FaceLayer[];
  readonly background: FaceLayer;
  /** Rects at rest (no motion): the lips, each eye, the whole mouth sprite, the head. */
  readonly layout: { lips: Rect; eyeLeft: Rect; eyeRight: Rect; mouthSprite: Rect; head: Rect };
  /** Number of mouth layers. */
  readonly mouthSpriteCount: number;
  /** The motion/blink state for a request. */
  pose(request: FrameRequest): BuiltinFacePose;
  /** The layers a frame draws over the background, in order, with their offsets. */
  draws(request: FrameRequest): FaceDraw[];
}

const OPEN_LEVELS = 9; // 0, 1/8, ..., 1
const SHAPE_LEVELS = 5; // -1, -0.5, 0, 0.5, 1
const PRESS_LEVELS = [0.5, 1] as const;
const LID_LEVELS = [0, 0.45, 0.8, 1] as const;
/** Iris offsets (design px): straight, then small glances. */
const GAZES: ReadonlyArray<readonly [number, number]> = [
  [0, 0],
  [-4.5, 0],
  [4.5, 0],
  [-3.5, -2.5],
  [3.5, -2.5],
  [0, 2.5],
  [-2.5, 1.5],
];

/** Clamp, mapping NaN/undefined to `lo` so bad weights can never pick a missing sprite. */
const clamp = (x: number, lo = 0, hi = 1) => (!(x >= lo) ? lo : x > hi ? hi : x);
const avg = (b: Blendshapes, l: keyof Blendshapes, r: keyof Blendshapes) => ((b[l] ?? 0) + (b[r] ?? 0)) / 2;

/** Map ARKit mouth weights to the sprite grid's parameters. */
export function mouthStateFor(b: Blendshapes): MouthState {
  const jaw = clamp(b.jawOpen ?? 0);
  const lipClose = clamp(Math.max(b.mouthClose ?? 0, avg(b, 'mouthPressLeft', 'mouthPressRight')));
  const open = clamp(jaw * (1 - 0.9 * lipClose));
  const round = clamp(Math.max(b.mouthFunnel ?? 0, b.mouthPucker ?? 0) * 1.2);
  const wide = clamp(avg(b, 'mouthStretchLeft', 'mouthStretchRight') + 0.6 * avg(b, 'mouthSmileLeft', 'mouthSmileRight'));
  const teeth = clamp((avg(b, 'mouthUpperUpLeft', 'mouthUpperUpRight') + avg(b, 'mouthLowerDownLeft', 'mouthLowerDownRight')) * 1.6);
  const press = open < 0.09 ? clamp(lipClose * 1.6) : 0;
  return { open, shape: clamp(wide * 1.3 - round * 1.3, -1, 1), teeth, press };
}

/** Plan the built-in face: its layers and how it moves. Same options, same frames, on the worker and in the page. */
export function planBuiltinFace(opts: BuiltinFaceOptions = {}): FacePlan {
  const width = Math.round(opts.width ?? 512);
  const height = Math.round(opts.height ?? width);
  if (!(width >= 64 && height >= 64 && width <= 4096 && height <= 4096)) {
    throw new RangeError(`builtin face size must be 64..4096 pixels a side, got ${width}x${height}`);
  }
  const seed = (opts.seed ?? 1) | 0;
  const motion = Math.max(0, opts.motion ?? 1);
  const palette: FacePalette = paletteFor(opts.style, opts.palette);
  const scale = Math.min(width, height) / 512;
  const view: Viewport = { scale, ox: (width - 512 * scale) / 2, oy: height - 512 * scale };

  const toPx = (x: number, y: number, w: number, h: number): Rect => {
    const px = Math.floor(view.ox + x * scale);
    const py = Math.floor(view.oy + y * scale);
    const px2 = Math.ceil(view.ox + (x + w) * scale);
    const py2 = Math.ceil(view.oy + (y + h) * scale);
    const cx = Math.max(0, px);
    const cy = Math.max(0, py);
    return { x: cx, y: cy, w: Math.max(1, Math.min(width, px2) - cx), h: Math.max(1, Math.min(height, py2) - cy) };
  };
  const layers: FaceLayer[] = [];
  const add = (x: number, y: number, svg: string): FaceLayer => {
    const l = { id: layers.length, x, y, svg };
    layers.push(l);
    return l;
  };
  const layer = (r: Rect, markup: string): FaceLayer => add(r.x, r.y, document(palette, view, r.x, r.y, r.w, r.h, markup));

  // Background: full frame, opaque, copied as a whole each frame.
  const bg = add(0, 0, document(palette, view, 0, 0, width, height, background()));
  const bodyR = toPx(LAYOUT.bodyRect.x - 200, 100, LAYOUT.bodyRect.w + 400, 520);
  const bodySprite = layer(bodyR, body(palette));
  const headR = toPx(LAYOUT.headRect.x, LAYOUT.headRect.y, LAYOUT.headRect.w, LAYOUT.headRect.h);
  const headSprite = layer(headR, head(palette, 0));

  // Eyes: opaque patches of the head (skin + eye) for each lid state × gaze.
  const eyeRectFor = (c: { x: number; y: number }) =>
    toPx(c.x - LAYOUT.eyeRect.w / 2, c.y + LAYOUT.eyeRect.dy, LAYOUT.eyeRect.w, LAYOUT.eyeRect.h);
  const eyeLR = eyeRectFor(LAYOUT.eyeL);
  const eyeRR = eyeRectFor(LAYOUT.eyeR);
  const eyeSprites: FaceLayer[][] = [[], []]; // [side][lid * GAZES.length + gaze]
  const headMarkup = head(palette, 0);
  for (const lid of LID_LEVELS) {
    for (const [gx, gy] of GAZES) {
      const st = { closure: lid, gx, gy };
      eyeSprites[0]!.push(layer(eyeLR, headMarkup + eye(palette, LAYOUT.eyeL.x, LAYOUT.eyeL.y, -1, st, 'eL')));
      eyeSprites[1]!.push(layer(eyeRR, headMarkup + eye(palette, LAYOUT.eyeR.x, LAYOUT.eyeR.y, 1, st, 'eR')));
    }
  }
  const browRectFor = (c: { x: number; y: number }) =>
    toPx(c.x - LAYOUT.browRect.w / 2, c.y + LAYOUT.browRect.dy, LAYOUT.browRect.w, LAYOUT.browRect.h);
  const browL = layer(browRectFor(LAYOUT.eyeL), brow(palette, LAYOUT.eyeL.x, LAYOUT.eyeL.y, -1));
  const browR = layer(browRectFor(LAYOUT.eyeR), brow(palette, LAYOUT.eyeR.x, LAYOUT.eyeR.y, 1));

  // Mouth grid: lower face (skin, chin that drops with the jaw) + lips/teeth/tongue.
  const mR = toPx(LAYOUT.mouthRect.x, LAYOUT.mouthRect.y, LAYOUT.mouthRect.w, LAYOUT.mouthRect.h);
  const mouthSprite = (st: MouthState) => {
    const m = mouth(palette, st);
    return layer(mR, head(palette, m.chinDrop) + m.svg);
  };
  const openSprites: FaceLayer[] = []; // [(teeth * SHAPE_LEVELS + shape) * OPEN_LEVELS + open]
  for (let teeth = 0; teeth < 2; teeth++) {
    for (let sh = 0; sh < SHAPE_LEVELS; sh++) {
      for (let o = 0; o < OPEN_LEVELS; o++) {
        openSprites.push(mouthSprite({ open: o / (OPEN_LEVELS - 1), shape: sh / 2 - 1, teeth, press: 0 }));
      }
    }
  }
  const pressSprites: FaceLayer[] = []; // [shape * PRESS_LEVELS.length + level]
  for (let sh = 0; sh < SHAPE_LEVELS; sh++) {
    for (const press of PRESS_LEVELS) pressSprites.push(mouthSprite({ open: 0, shape: sh / 2 - 1, teeth: 0, press }));
  }

  const pose = facePose(seed, motion, scale);
  const lidIndex = (lid: number) => LID_LEVELS.indexOf(lid as (typeof LID_LEVELS)[number]);

  const pickMouth = (st: MouthState): FaceLayer => {
    const sh = Math.round((st.shape + 1) * 2);
    if (st.press >= 0.25) {
      const lvl = st.press >= 0.75 ? 1 : 0;
      return pressSprites[sh * PRESS_LEVELS.length + lvl]!;
    }
    const o = Math.round(st.open * (OPEN_LEVELS - 1));
    const teeth = st.teeth >= 0.5 && o <= 3 ? 1 : 0;
    return openSprites[(teeth * SHAPE_LEVELS + sh) * OPEN_LEVELS + o]!;
  };

  const draws = (req: FrameRequest): FaceDraw[] => {
    const p = pose(req);
    const ei = lidIndex(p.lid) * GAZES.length + p.gaze;
    return [
      { layer: bodySprite, dx: 0, dy: p.bodyDy },
      { layer: headSprite, dx: p.headDx, dy: p.headDy },
      { layer: eyeSprites[0]![ei]!, dx: p.headDx, dy: p.headDy },
      { layer: eyeSprites[1]![ei]!, dx: p.headDx, dy: p.headDy },
      { layer: browL, dx: p.headDx, dy: p.headDy - p.browRaise },
      { layer: browR, dx: p.headDx, dy: p.headDy - p.browRaise },
      { layer: pickMouth(mouthStateFor(req.mouth)), dx: p.headDx, dy: p.headDy },
    ];
  };

  const lipsDesign = { x: LAYOUT.mouth.x - 44, y: LAYOUT.mouth.y - 32, w: 88, h: 66 };
  return {
    width,
    height,
    layers,
    background: bg,
    pose,
    draws,
    mouthSpriteCount: openSprites.length + pressSprites.length,
    layout: {
      lips: toPx(lipsDesign.x, lipsDesign.y, lipsDesign.w, lipsDesign.h),
      eyeLeft: eyeLR,
      eyeRight: eyeRR,
      mouthSprite: mR,
      head: headR,
    },
  };
}

/**
 * The face's life over time (blinks, gaze shifts, idle head motion, breathing; calmer gaze while
 * speaking), a pure function of (seed, request). `scale` is pixels per design pixel: offsets come
 * out in pixels. Renderers that are not the 2D face (the page's 3D heads) take their blinks and
 * head motion from here too, so every avatar of one seed blinks alike.
 */
export function facePose(seed: number, motion = 1, scale = 1): (req: FrameRequest) => BuiltinFacePose {
  const blinks = new EventSchedule(seed, 3, 2500, 2000, 6000);
  const saccades = new EventSchedule(seed, 4, 1500, 900, 3200);
  const breathPhase = rand(seed, 5, 0) * Math.PI * 2;

  return (req: FrameRequest): BuiltinFacePose => {
    const t = Number.isFinite(req.timeMs) ? req.timeMs : 0;
    const amp = motion * scale;
    const breath = Math.sin((2 * Math.PI * t) / 4300 + breathPhase);
    const jaw = clamp(req.mouth.jawOpen ?? 0);
    const bodyDy = Math.round(amp * 1.4 * breath);
    const headDx = Math.round(amp * 3.2 * wobble(seed, 1, t, 7300));
    const headDy = Math.round(amp * (2.2 * wobble(seed, 2, t, 5100) + 1.2 * breath + (req.speaking ? 1.3 * jaw : 0)));
    const bi = blinks.indexAt(t);
    const closure = bi >= 0 ? blinkClosure(t - blinks.time(bi)) : 0;
    let lid = 0;
    for (let i = 1; i < LID_LEVELS.length; i++) {
      if (Math.abs(LID_LEVELS[i]! - closure) < Math.abs(LID_LEVELS[lid]! - closure)) lid = i;
    }
    const si = saccades.indexAt(t);
    let gaze = 0;
    if (si >= 0) {
      const u = rand(seed, 6, si);
      const centre = req.speaking ? 0.65 : 0.35;
      gaze = u < centre ? 0 : 1 + Math.floor(((u - centre) / (1 - centre)) * (GAZES.length - 1));
      if (gaze >= GAZES.length) gaze = GAZES.length - 1;
    }
    const browRaise = Math.round(
      scale * (req.speaking ? 1 + 2 * Math.max(0, wobble(seed, 7, t, 1900)) + jaw : gaze === 3 || gaze === 4 ? 1.5 : 0),
    );
    return { headDx, headDy, bodyDy, lid: LID_LEVELS[lid]!, gaze, browRaise };
  };
}

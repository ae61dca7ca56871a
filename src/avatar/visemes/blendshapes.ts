/**
 * ARKit blendshape names for the mouth and jaw. The viseme engine speaks this vocabulary so any
 * renderer that understands ARKit faces (MetaHuman, Gaussian heads, LAM, the built-in 2D face)
 * can consume its output unchanged. Weights are 0..1.
 */
export const MOUTH_BLENDSHAPES = [
  'jawOpen',
  'mouthClose',
  'mouthFunnel',
  'mouthPucker',
  'mouthSmileLeft',
  'mouthSmileRight',
  'mouthStretchLeft',
  'mouthStretchRight',
  'mouthUpperUpLeft',
  'mouthUpperUpRight',
  'mouthLowerDownLeft',
  'mouthLowerDownRight',
  'mouthPressLeft',
  'mouthPressRight',
] as const;

export type MouthBlendshape = (typeof MOUTH_BLENDSHAPES)[number];

/** One frame of mouth weights; names absent are 0. */
export type Blendshapes = Partial<Record<MouthBlendshape, number>>;

/** The closed, relaxed mouth: what a silent or interrupted avatar shows. */
export const NEUTRAL_MOUTH: Readonly<Blendshapes> = Object.freeze({});

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

/**
 * All 52 ARKit face blendshapes, in Apple's order (ARFaceAnchor.BlendShapeLocation). Renderers
 * that read a full expression every frame (the page's Gaussian-splat head) get every name, the
 * ones the viseme engine does not drive at 0.
 */
export const ARKIT_BLENDSHAPES = [
  'browDownLeft', 'browDownRight', 'browInnerUp', 'browOuterUpLeft', 'browOuterUpRight',
  'cheekPuff', 'cheekSquintLeft', 'cheekSquintRight',
  'eyeBlinkLeft', 'eyeBlinkRight', 'eyeLookDownLeft', 'eyeLookDownRight', 'eyeLookInLeft', 'eyeLookInRight',
  'eyeLookOutLeft', 'eyeLookOutRight', 'eyeLookUpLeft', 'eyeLookUpRight', 'eyeSquintLeft', 'eyeSquintRight',
  'eyeWideLeft', 'eyeWideRight',
  'jawForward', 'jawLeft', 'jawOpen', 'jawRight',
  'mouthClose', 'mouthDimpleLeft', 'mouthDimpleRight', 'mouthFrownLeft', 'mouthFrownRight', 'mouthFunnel',
  'mouthLeft', 'mouthLowerDownLeft', 'mouthLowerDownRight', 'mouthPressLeft', 'mouthPressRight', 'mouthPucker',
  'mouthRight', 'mouthRollLower', 'mouthRollUpper', 'mouthShrugLower', 'mouthShrugUpper', 'mouthSmileLeft',
  'mouthSmileRight', 'mouthStretchLeft', 'mouthStretchRight', 'mouthUpperUpLeft', 'mouthUpperUpRight',
  'noseSneerLeft', 'noseSneerRight', 'tongueOut',
] as const;

export type ArkitBlendshape = (typeof ARKIT_BLENDSHAPES)[number];

export { createBuiltinFace, mouthStateFor, type BuiltinFace, type BuiltinFaceOptions, type BuiltinFacePose, type Rect } from './face.js';
export { DEFAULT_PALETTE, paletteFor, type FacePalette, type FaceStyle, type MouthState } from './face-svg.js';
export { encodePng, contactSheet } from './png.js';
export { BLINK_MS } from './motion.js';
export { planBuiltinFace, type FaceDraw, type FaceLayer, type FacePlan } from './face-plan.js';

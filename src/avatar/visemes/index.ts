export { MOUTH_BLENDSHAPES, NEUTRAL_MOUTH, type Blendshapes, type MouthBlendshape } from './blendshapes.js';
export type { VisemeEngine } from './engine.js';
export { createVisemeEngine, VISEME_TUNING, type VisemeEngineOptions, type VisemeTuning } from './audio-engine.js';
export { FrameAnalyzer, fftSizeFor, type AudioFeatures } from './features.js';
export { Fft } from './fft.js';

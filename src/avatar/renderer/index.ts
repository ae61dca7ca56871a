export { diffusionAdapter, splatAdapter } from './adapters.js';
export { RendererClient, type RendererClientStats, type ReconnectPolicy } from './client.js';
export { RendererConnection, RendererConnectError, displayUrl } from './connection.js';
export { decodeFrame, encodeFrame } from './frame-decoder.js';
export { diffusionProfileSchema, splatProfileSchema, rendererInput, rendererTiming, type DiffusionProfile, type SplatProfile, type RendererProfile } from './profiles.js';
export * from './protocol.js';
export { ReferenceRenderer, RendererSession, REFERENCE_RENDERER_PATH, type ReferenceRendererOptions } from './reference-renderer.js';
export { RendererOutput, rendererOutputFor, type RendererOutputDeps, type RendererOutputOptions } from './renderer-output.js';

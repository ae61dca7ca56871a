import { z } from 'zod';
import { localVideo, profileCommon } from '../../config/profile-common.js';

/**
 * Profiles of avatars rendered by a self-hosted GPU server that speaks the renderer protocol
 * (docs/renderer-protocol.md). `diffusion` (MuseTalk, Ditto, LatentSync…) takes speech audio;
 * `splat` (GaussianTalker, LAM…) takes audio or ARKit blendshapes from our viseme engine.
 */

const rendererUrl = z
  .string()
  .regex(/^wss?:\/\/[^\s]+$/, { error: 'must be a ws:// or wss:// URL of the renderer, e.g. ws://gpu-host:8765/v1/render' });

const rendererCommon = {
  ...profileCommon,
  ...localVideo,
  url: rendererUrl,
  /** An avatar the renderer already knows (prepared on the GPU host). */
  avatarId: z.string().min(1).max(200).optional(),
  /**
   * A picture of the face for renderers that build an avatar from one image: an https:// URL the
   * renderer fetches, or a file (absolute, or relative to the working directory) the worker sends inline.
   */
  referenceImage: z.string().min(1).max(2000).optional(),
  width: z.number().int().min(128).max(1920).default(512),
  height: z.number().int().min(128).max(1920).default(512),
  /** How frames travel: JPEG (small, decoded by the worker) or raw I420 / RGBA (fat, no decode). */
  frameFormat: z.enum(['jpeg', 'i420', 'rgba']).default('jpeg'),
  /** `stream`: the renderer sends idle motion while the avatar listens; `still`: one rest frame, repeated. */
  idle: z.enum(['stream', 'still']).default('stream'),
  /** Connect + session start must complete within this (the renderer may load the avatar then). */
  startTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
  /** Frames (covering this much audio) gathered before a reply starts playing: absorbs renderer jitter. */
  prebufferMs: z.number().int().min(0).max(2000).optional(),
  /** A reply waits at most this long for its first frame, then plays over the last picture. */
  firstFrameTimeoutMs: z.number().int().min(100).max(10_000).optional(),
  /** Nothing heard from the renderer (frames, credits, pongs) for this long: the connection is dead. */
  silenceTimeoutMs: z.number().int().min(1000).max(60_000).default(5000),
  /** Frames the renderer may send ahead of playout (credits): bounds the worker's frame queue. */
  frameWindow: z.number().int().min(4).max(120).default(16),
  reconnect: z
    .object({
      attempts: z.number().int().min(0).max(20).default(4),
      initialDelayMs: z.number().int().min(50).max(10_000).default(250),
      maxDelayMs: z.number().int().min(100).max(60_000).default(4000),
    })
    .strict()
    .default({ attempts: 4, initialDelayMs: 250, maxDelayMs: 4000 }),
};

const needsAvatar = (p: { avatarId?: string | undefined; referenceImage?: string | undefined }) => Boolean(p.avatarId || p.referenceImage);
const avatarMissing = { error: 'set avatarId (an avatar the renderer knows) or referenceImage (a picture of the face)', path: ['avatarId'] };

export const diffusionProfileSchema = z
  .object({
    adapter: z.literal('diffusion'),
    ...rendererCommon,
  })
  .refine(needsAvatar, avatarMissing);

export const splatProfileSchema = z
  .object({
    adapter: z.literal('splat'),
    ...rendererCommon,
    /** What drives the head: ARKit blendshapes from the worker's viseme engine (LAM-style) or the audio. */
    input: z.enum(['blendshapes', 'audio']).default('blendshapes'),
  })
  .refine(needsAvatar, avatarMissing);

export type DiffusionProfile = z.infer<typeof diffusionProfileSchema> & { name: string };
export type SplatProfile = z.infer<typeof splatProfileSchema> & { name: string };
export type RendererProfile = DiffusionProfile | SplatProfile;

/**
 * Defaults that differ by kind: a diffusion model renders in windows (Ditto: 5 frames per 200 ms
 * step) and needs a deeper pre-buffer and a longer first-frame wait than a splat head.
 */
export function rendererTiming(profile: RendererProfile): { prebufferMs: number; firstFrameTimeoutMs: number } {
  const diffusion = profile.adapter === 'diffusion';
  return {
    prebufferMs: profile.prebufferMs ?? (diffusion ? 200 : 80),
    firstFrameTimeoutMs: profile.firstFrameTimeoutMs ?? (diffusion ? 1500 : 600),
  };
}

/** What the renderer is fed. */
export function rendererInput(profile: RendererProfile): 'audio' | 'blendshapes' {
  return profile.adapter === 'splat' ? profile.input : 'audio';
}

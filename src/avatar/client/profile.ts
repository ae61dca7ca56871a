import { z } from 'zod';
import { profileCommon as common } from '../../config/profile-common.js';
import { clientRendererSchema, faceStyleSchema } from './protocol.js';

/**
 * An avatar the viewer's browser draws (`{"adapter": "client", "renderer": "face2d"|"gltf"|"splat"}`):
 * the worker publishes the voice only and says what to draw; see ./protocol.ts.
 */
export const clientProfileSchema = z
  .object({
    adapter: z.literal('client'),
    ...common,
    renderer: clientRendererSchema,
    /** The model's URL as the viewer's browser fetches it: a GLB with ARKit morph targets (gltf), LAM's avatar archive (splat). */
    asset: z.string().min(1).max(2000).optional(),
    /** Blink and idle motion seed of the face2d face, as the builtin profile's. */
    seed: z.number().int().min(0).default(1),
    style: faceStyleSchema.default({}),
    /** How long a viewer has to say it can draw this avatar before the worker falls back (no such viewer: another front end). */
    announceTimeoutMs: z.number().int().min(100).max(60_000).default(3_000),
    /** Sample rate of the published voice. */
    sampleRate: z.union([z.literal(16000), z.literal(24000), z.literal(48000)]).default(24000),
  })
  .superRefine((p, ctx) => {
    if (p.renderer !== 'face2d' && !p.asset) ctx.addIssue({ code: 'custom', path: ['asset'], message: `is required for the ${p.renderer} renderer` });
  });

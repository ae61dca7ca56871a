/**
 * The UIInteraction descriptors this worker sends to Unreal (data channel message 50, JSON). An
 * Unreal project reads them in Blueprint ("Pixel Streaming Input" component → On Input Event →
 * parse the JSON) and acts on `type`. docs/unreal.md lists them; the schemas are the contract.
 */
import { z } from 'zod';
import { MOUTH_BLENDSHAPES, type Blendshapes } from '../visemes/blendshapes.js';

const weight = z.number().min(0).max(1);

export const blendshapesInteractionSchema = z
  .object({
    type: z.literal('blendshapes'),
    /** 0, 1, 2... per connection, so a project can drop out-of-order or stale frames. */
    seq: z.number().int().min(0),
    /** Frames per second of this stream (one message per frame while the agent speaks). */
    fps: z.number().int().positive(),
    /** ARKit blendshape weights, 0..1; names absent are 0. */
    weights: z.partialRecord(z.enum(MOUTH_BLENDSHAPES), weight),
  })
  .strict();

export const speechInteractionSchema = z
  .object({
    type: z.literal('speech'),
    /** start: the agent's voice begins on the microphone; end: the reply was sent in full; interrupted: the user cut in. */
    event: z.enum(['start', 'end', 'interrupted']),
    segment: z.number().int().min(1),
  })
  .strict();

export const emotionInteractionSchema = z
  .object({ type: z.literal('emotion'), name: z.string().min(1).max(64), intensity: weight.default(1) })
  .strict();

export const gestureInteractionSchema = z.object({ type: z.literal('gesture'), name: z.string().min(1).max(64) }).strict();

export const avatarInteractionSchema = z.discriminatedUnion('type', [
  blendshapesInteractionSchema,
  speechInteractionSchema,
  emotionInteractionSchema,
  gestureInteractionSchema,
]);

export type AvatarInteraction = z.infer<typeof avatarInteractionSchema>;

/** Weights rounded to 3 decimals (plenty for a face, a third of the bytes), zeros left out. */
export function compactWeights(mouth: Blendshapes): Partial<Record<(typeof MOUTH_BLENDSHAPES)[number], number>> {
  const out: Partial<Record<(typeof MOUTH_BLENDSHAPES)[number], number>> = {};
  for (const name of MOUTH_BLENDSHAPES) {
    const v = mouth[name];
    if (v === undefined) continue;
    const r = Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
    if (r > 0) out[name] = r;
  }
  return out;
}

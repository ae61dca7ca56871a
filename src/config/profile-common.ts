import { z } from 'zod';

/**
 * Fields every avatar profile shares, in their own module so each adapter family can define its
 * profile variant next to its code without importing the union (which imports them all).
 */
export const profileName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'must be a profile name (lowercase letters, digits, - or _)' });

export const profileCommon = {
  /** Shown in logs and to the user when this avatar is in use. */
  displayName: z.string().min(1).max(80).optional(),
  description: z.string().max(500).optional(),
  /** Profiles to try, in order, when this one fails; `none` (voice only) is always the last resort. */
  fallback: z.array(profileName).max(8).default([]),
};

/** Fields of an avatar whose video the worker itself publishes (local family). */
export const localVideo = {
  fps: z.number().int().min(10).max(60).default(25),
  /** Sample rate of the avatar's published voice. */
  sampleRate: z.union([z.literal(16000), z.literal(24000), z.literal(48000)]).default(24000),
};

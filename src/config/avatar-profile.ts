import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { clientProfileSchema } from '../avatar/client/profile.js';
import { faceStyleSchema } from '../avatar/client/protocol.js';
import { HEDRA_DISABLED_MESSAGE, remoteProfileSchemas, retiredRemoteProfileSchemas } from '../avatar/remote/profiles.js';
import { diffusionProfileSchema, splatProfileSchema } from '../avatar/renderer/profiles.js';
import { unrealProfileSchema } from '../avatar/unreal/profiles.js';
import { localVideo, profileCommon as common } from './profile-common.js';

/**
 * An avatar profile: avatars/<name>/avatar.json. It names the adapter that renders the avatar,
 * that adapter's settings, and where to fall back when it cannot serve. Each adapter family adds
 * its own variant to the union.
 */
export const builtinProfileSchema = z.object({
  adapter: z.literal('builtin'),
  ...common,
  ...localVideo,
  width: z.number().int().min(256).max(1920).default(512),
  height: z.number().int().min(256).max(1920).default(512),
  /** Seeds the blink and idle motion so two avatars in one room do not move in lockstep. */
  seed: z.number().int().min(0).default(1),
  style: faceStyleSchema.default({}),
});

export const noneProfileSchema = z.object({
  adapter: z.literal('none'),
  ...common,
});

export const avatarProfileSchema = z.discriminatedUnion('adapter', [
  builtinProfileSchema,
  noneProfileSchema,
  clientProfileSchema,
  ...remoteProfileSchemas,
  ...retiredRemoteProfileSchemas,
  diffusionProfileSchema,
  splatProfileSchema,
  unrealProfileSchema,
]);

/** A profile that loaded (a retired adapter such as Hedra never does). */
export type AvatarProfile = Exclude<z.infer<typeof avatarProfileSchema>, { adapter: 'hedra' }> & { name: string };
export type BuiltinProfile = Extract<AvatarProfile, { adapter: 'builtin' }>;

export class AvatarProfileError extends Error {
  override name = 'AvatarProfileError';
}

/** The profile used when even `none` has no file: voice only, no video. */
export const VOICE_ONLY_PROFILE: AvatarProfile = { name: 'none', adapter: 'none', fallback: [] };

export async function loadAvatarProfile(dir: string, name: string): Promise<AvatarProfile> {
  if (name === 'none') return VOICE_ONLY_PROFILE;
  const path = join(dir, name, 'avatar.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    const available = await listAvatarProfiles(dir);
    throw new AvatarProfileError(
      `AVATAR=${name}: no profile at ${path}; available: ${available.length ? available.join(', ') : '(none)'}, or none for voice only. Create ${path} or set AVATAR to one of these`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AvatarProfileError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = avatarProfileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    throw new AvatarProfileError(`${path}: ${where} ${issue.message}`);
  }
  const profile = parsed.data as Omit<AvatarProfile, 'name'>;
  const unknown = unknownKeys(json as Record<string, unknown>, profile.adapter);
  if (unknown.length) {
    // A misspelt field would otherwise be dropped without a word and its default used instead.
    throw new AvatarProfileError(
      `${path}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} for adapter ${profile.adapter}; known fields: ${knownKeys(profile.adapter).join(', ')}`,
    );
  }
  const retired = await retiredInChain(dir, profile.fallback, new Set([name]));
  if (retired) {
    // Refused here, not when the chain reaches it: the operator learns it at start, not mid-call.
    throw new AvatarProfileError(`${path}: fallback reaches ${retired.chain.join(' → ')}, whose profile ${HEDRA_DISABLED_MESSAGE}`);
  }
  return { ...profile, name } as AvatarProfile;
}

/** The first profile down a fallback chain whose adapter is retired (Hedra), with the path to it. */
async function retiredInChain(dir: string, names: readonly string[], seen: Set<string>, chain: string[] = []): Promise<{ chain: string[] } | undefined> {
  for (const next of names) {
    if (seen.has(next) || next === 'none') continue;
    seen.add(next);
    const json = await readFile(join(dir, next, 'avatar.json'), 'utf8')
      .then((t) => JSON.parse(t) as { adapter?: unknown; fallback?: unknown })
      .catch(() => undefined);
    // A missing or broken fallback profile is reported when the chain reaches it, as before.
    if (!json || typeof json !== 'object') continue;
    if (json.adapter === 'hedra') return { chain: [...chain, next] };
    const further = Array.isArray(json.fallback) ? json.fallback.filter((f): f is string => typeof f === 'string') : [];
    const found = await retiredInChain(dir, further, seen, [...chain, next]);
    if (found) return found;
  }
  return undefined;
}

function knownKeys(adapter: string): string[] {
  const option = avatarProfileSchema.options.find((o) => o.shape.adapter.value === adapter);
  return option ? Object.keys(option.shape) : [];
}

function unknownKeys(json: Record<string, unknown>, adapter: string): string[] {
  const known = new Set(knownKeys(adapter));
  // "$schema" lets editors validate the file; it is not a setting.
  return Object.keys(json).filter((k) => !known.has(k) && k !== '$schema');
}

export async function listAvatarProfiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const ok = await readFile(join(dir, e.name, 'avatar.json'), 'utf8').then(() => true, () => false);
    if (ok) names.push(e.name);
  }
  return names.sort();
}

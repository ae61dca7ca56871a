import { loadAvatarProfile, VOICE_ONLY_PROFILE, type AvatarProfile } from '../config/avatar-profile.js';
import { builtinAdapter } from './builtin.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle } from './contract.js';
import { noneAdapter } from './none.js';

export function adapterFor(profile: AvatarProfile): AvatarAdapter {
  switch (profile.adapter) {
    case 'builtin':
      return builtinAdapter(profile);
    case 'none':
      return noneAdapter(profile);
  }
}

export interface AttachedAvatar {
  handle: AvatarHandle;
  /** Profiles that were tried and failed before `handle`'s, with the reason. */
  fallbacks: { profile: string; reason: string }[];
}

/**
 * Attach the named avatar, walking its fallback chain when an avatar cannot serve. Voice only is
 * always the last resort, so a conversation never fails for want of a face.
 */
export async function attachAvatar(ctx: AvatarContext, dir: string, name: string): Promise<AttachedAvatar> {
  const fallbacks: AttachedAvatar['fallbacks'] = [];
  const tried = new Set<string>();
  const queue: string[] = [name];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (tried.has(next)) continue;
    tried.add(next);
    let profile: AvatarProfile | undefined;
    try {
      profile = await loadAvatarProfile(dir, next);
      const handle = await adapterFor(profile).attach(ctx);
      await describeAvatar(ctx, handle.profile, fallbacks);
      if (fallbacks.length) ctx.logger.warn({ avatar: next, fallbacks }, `avatar ${name} unavailable; using ${next}`);
      else ctx.logger.info({ avatar: next, adapter: profile.adapter }, 'avatar attached');
      return { handle, fallbacks };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      fallbacks.push({ profile: next, reason });
      ctx.logger.warn({ avatar: next, reason }, 'avatar failed to start; trying the next in its fallback chain');
      queue.unshift(...(profile?.fallback ?? []));
    }
  }
  const handle = await noneAdapter(VOICE_ONLY_PROFILE).attach(ctx);
  await describeAvatar(ctx, handle.profile, fallbacks);
  ctx.logger.warn({ fallbacks }, `no avatar could start; continuing voice only`);
  return { handle, fallbacks };
}

/**
 * Tell the room which avatar is showing and why, as attributes of the agent participant, so a
 * front end can say "avatar unavailable, voice only" instead of showing a black tile.
 */
async function describeAvatar(ctx: AvatarContext, profile: AvatarProfile, fallbacks: AttachedAvatar['fallbacks']): Promise<void> {
  const participant = ctx.room?.localParticipant;
  if (!participant) return;
  const last = fallbacks.at(-1);
  await participant
    .setAttributes({
      'avatar.profile': profile.name,
      'avatar.adapter': profile.adapter,
      'avatar.fallback_reason': last ? `${last.profile}: ${last.reason}`.slice(0, 500) : '',
    })
    .catch((err: unknown) => ctx.logger.debug({ err }, 'could not set avatar attributes'));
}

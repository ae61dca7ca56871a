import type { Config } from '../config/config.js';
import { loadAvatarProfile } from '../config/avatar-profile.js';
import { builtinAnimator } from './local/outputs.js';

/**
 * Work a call's avatar needs that can be done before the call: a warm job process (prewarm)
 * rasterises the built-in face's sprites (seconds on a busy core; kept by sprite.ts's cache), so
 * the agent is listening sooner after the user joins. Other adapters have nothing to prepare.
 */
export async function prewarmAvatar(avatar: Config['avatar']): Promise<void> {
  const profile = await loadAvatarProfile(avatar.dir, avatar.name);
  if (profile.adapter === 'builtin') builtinAnimator(profile);
}

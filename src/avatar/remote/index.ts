import type { AvatarKeys } from '../../config/config.js';
import type { AvatarAdapter } from '../contract.js';
import { anamLauncher } from './launchers/anam.js';
import { beyLauncher } from './launchers/bey.js';
import { lemonSliceLauncher } from './launchers/lemonslice.js';
import { liveAvatarLauncher } from './launchers/liveavatar.js';
import { selfhostedLauncher } from './launchers/selfhosted.js';
import { tavusLauncher } from './launchers/tavus.js';
import type { RemoteLauncher } from './launcher.js';
import type { RemoteProfile } from './profiles.js';
import { remoteAdapter } from './session.js';

export * from './profiles.js';
export { RemoteAvatarError, avatarIdentityFor, livekitUrlForProvider } from './session.js';
export { createTavusEchoPal } from './tavus-pal.js';

/**
 * The adapter for a remote provider's profile (Tavus, LiveAvatar, Beyond Presence, Anam,
 * LemonSlice, self-hosted). Keys come from `ctx.keys` at attach time; a missing key fails the
 * attach with the env variable to set, and the registry falls back.
 */
export function remoteAdapterFor(profile: RemoteProfile): AvatarAdapter {
  return remoteAdapter(profile, (keys) => launcherFor(profile, keys));
}

export function launcherFor(profile: RemoteProfile, keys: AvatarKeys): RemoteLauncher {
  switch (profile.adapter) {
    case 'tavus':
      return tavusLauncher(profile, keys);
    case 'liveavatar':
      return liveAvatarLauncher(profile, keys);
    case 'bey':
      return beyLauncher(profile, keys);
    case 'anam':
      return anamLauncher(profile, keys);
    case 'lemonslice':
      return lemonSliceLauncher(profile, keys);
    case 'selfhosted':
      return selfhostedLauncher(profile, keys);
  }
}

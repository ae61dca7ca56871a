import type { AvatarKeys } from '../../config/config.js';
import type { AvatarAdapter } from '../contract.js';
import { anamLauncher } from './launchers/anam.js';
import { inferenceLauncher } from './launchers/inference.js';
import { simliLauncher } from './launchers/simli.js';
import { didLauncher } from './launchers/did.js';
import { runwayLauncher } from './launchers/runway.js';
import { synthesiaLauncher } from './launchers/synthesia.js';
import { trugenLauncher } from './launchers/trugen.js';
import { keyframeLauncher } from './launchers/keyframe.js';
import { avatarioLauncher } from './launchers/avatario.js';
import { protofaceLauncher } from './launchers/protoface.js';
import { bithumanLauncher } from './launchers/bithuman.js';
import { avatarTalkLauncher } from './launchers/avatartalk.js';
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
 * LemonSlice, Simli, D-ID, Runway, Synthesia, Trugen, Keyframe, Avatario, Protoface, bitHuman, AvatarTalk, LiveKit Inference, self-hosted). Keys come from `ctx.keys` at attach time; a missing key fails the
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
    case 'simli':
      return simliLauncher(profile, keys);
    case 'did':
      return didLauncher(profile, keys);
    case 'runway':
      return runwayLauncher(profile, keys);
    case 'synthesia':
      return synthesiaLauncher(profile, keys);
    case 'trugen':
      return trugenLauncher(profile, keys);
    case 'keyframe':
      return keyframeLauncher(profile, keys);
    case 'avatario':
      return avatarioLauncher(profile, keys);
    case 'protoface':
      return protofaceLauncher(profile, keys);
    case 'bithuman':
      return bithumanLauncher(profile, keys);
    case 'avatartalk':
      return avatarTalkLauncher(profile, keys);
    case 'inference':
      return inferenceLauncher(profile, keys);
    case 'selfhosted':
      return selfhostedLauncher(profile, keys);
  }
}

import type { AvatarProfile } from '../config/avatar-profile.js';
import type { AvatarAdapter, AvatarHandle } from './contract.js';

/** Voice only: the session's default room audio output speaks; no video is published. */
export function noneAdapter(profile: AvatarProfile): AvatarAdapter {
  return {
    async attach(): Promise<AvatarHandle> {
      return { profile, close: async () => {} };
    },
  };
}

import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { TrugenProfile } from '../profiles.js';

/**
 * Trugen: `POST /v1/sessions` (x-api-key) `{avatar_id, livekit_url, livekit_token}`; its avatar
 * joins as `trugen-avatar`. LiveKit's plugins neither read the answer nor end the session:
 * removing its participant does.
 */
export function trugenLauncher(profile: TrugenProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Trugen', keyEnv: 'TRUGEN_API_KEY', key: keys.trugen, auth: (k) => ({ 'x-api-key': k }) });
  return {
    provider: 'trugen',
    label: 'Trugen',
    async launch(req: LaunchRequest) {
      await api.launch(req, {
        action: 'create session',
        url: `${apiBase(profile.apiUrl)}/v1/sessions`,
        json: { avatar_id: profile.avatarId, livekit_url: req.livekitUrl, livekit_token: req.token },
      });
      return {};
    },
  };
}

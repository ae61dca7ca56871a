import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { AvatarioProfile } from '../profiles.js';

/**
 * Avatario: `POST /start-session` under https://avatario.ai/api/sdk (x-api-key)
 * `{avatario_face_id, agent_id: <agent's identity>, livekit {url, token}, video_width,
 * video_height, custom_background_url}` (the background null when unset, as LiveKit's plugin
 * sends it). 24 kHz. No end call: removing its participant ends the session.
 */
export function avatarioLauncher(profile: AvatarioProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Avatario', keyEnv: 'AVATARIO_API_KEY', key: keys.avatario, auth: (k) => ({ 'x-api-key': k }) });
  return {
    provider: 'avatario',
    label: 'Avatario',
    async launch(req: LaunchRequest) {
      await api.launch(req, {
        action: 'start session',
        url: `${apiBase(profile.apiUrl)}/start-session`,
        json: {
          avatario_face_id: profile.avatarId,
          agent_id: req.agentIdentity,
          livekit: { url: req.livekitUrl, token: req.token },
          video_height: profile.videoHeight,
          video_width: profile.videoWidth,
          custom_background_url: profile.backgroundUrl ?? null,
        },
      });
      return {};
    },
  };
}

import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { SimliProfile } from '../profiles.js';

const tokenSchema = z.object({ session_token: z.string().min(1) }).loose();
const joinSchema = z.object({ session_id: z.string().min(1).optional(), id: z.string().min(1).optional() }).loose();

/**
 * Simli: `POST /compose/token` (x-simli-api-key) `{faceId: "<face>/<emotion>", handleSilence,
 * maxSessionLength, maxIdleTime}` → `{session_token}`; then `POST /integrations/livekit/agents`
 * `{session_token, livekit_token, livekit_url}` sends its avatar into the room. 16 kHz. No end
 * call: removing its participant ends it, and maxSessionLength / maxIdleTime cap an orphan.
 */
export function simliLauncher(profile: SimliProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Simli', keyEnv: 'SIMLI_API_KEY', key: keys.simli, auth: (k) => ({ 'x-simli-api-key': k }) });
  const base = apiBase(profile.apiUrl);
  return {
    provider: 'simli',
    label: 'Simli',
    async launch(req: LaunchRequest) {
      const { session_token } = await api.launch(req, {
        action: 'create session token',
        url: `${base}/compose/token`,
        json: {
          faceId: `${profile.faceId}/${profile.emotionId}`,
          handleSilence: true,
          maxSessionLength: profile.maxSessionLengthSec,
          maxIdleTime: profile.maxIdleTimeSec,
        },
        schema: tokenSchema,
      });
      const joined = await api.launch(
        req,
        { action: 'start LiveKit session', withoutKey: true, url: `${base}/integrations/livekit/agents`, json: { session_token, livekit_token: req.token, livekit_url: req.livekitUrl }, schema: joinSchema },
        [session_token],
      );
      const id = joined.session_id ?? joined.id;
      return id ? { sessionId: id } : {};
    },
  };
}

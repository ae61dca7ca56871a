import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { KeyframeProfile } from '../profiles.js';

const reservationSchema = z.object({ reservation_id: z.string().min(1) }).loose();

/**
 * Keyframe Labs: `POST /v1/sessions/plugins/livekit` (Bearer) `{room_name, livekit_url,
 * livekit_token, source_participant_identity, persona_id | persona_slug}` →
 * `{reservation_id, avatar_participant_identity}`. 24 kHz. No end call: removing its participant
 * ends the session.
 */
export function keyframeLauncher(profile: KeyframeProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Keyframe', keyEnv: 'KEYFRAME_API_KEY', key: keys.keyframe, auth: (k) => ({ authorization: `Bearer ${k}` }) });
  return {
    provider: 'keyframe',
    label: 'Keyframe',
    async launch(req: LaunchRequest) {
      const reserved = await api.launch(req, {
        action: 'create session',
        url: `${apiBase(profile.apiUrl)}/v1/sessions/plugins/livekit`,
        json: {
          room_name: req.room,
          livekit_url: req.livekitUrl,
          livekit_token: req.token,
          source_participant_identity: req.agentIdentity,
          ...(profile.personaId ? { persona_id: profile.personaId } : { persona_slug: profile.personaSlug }),
        },
        schema: reservationSchema,
      });
      return { sessionId: reserved.reservation_id };
    },
  };
}

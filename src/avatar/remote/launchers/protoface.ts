import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { ProtofaceProfile } from '../profiles.js';

const sessionSchema = z.object({ id: z.string().min(1) }).loose();

/**
 * Protoface: `POST /v1/sessions` (Bearer) `{avatar_id, transport {type: "livekit", url, room_name,
 * worker_token, worker_identity, audio_source: "data_stream"}, max_duration_seconds?}` → `{id}`.
 * 16 kHz. Close ends it (`POST /v1/sessions/{id}/end`).
 */
export function protofaceLauncher(profile: ProtofaceProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Protoface', keyEnv: 'PROTOFACE_API_KEY', key: keys.protoface, auth: (k) => ({ authorization: `Bearer ${k}` }) });
  const base = `${apiBase(profile.apiUrl)}/v1/sessions`;
  return {
    provider: 'protoface',
    label: 'Protoface',
    async launch(req: LaunchRequest) {
      const { id } = await api.launch(req, {
        action: 'start session',
        url: base,
        json: {
          avatar_id: profile.avatarId,
          transport: { type: 'livekit', url: req.livekitUrl, room_name: req.room, worker_token: req.token, worker_identity: req.avatarIdentity, audio_source: 'data_stream' },
          ...(profile.maxDurationSec ? { max_duration_seconds: profile.maxDurationSec } : {}),
        },
        schema: sessionSchema,
      });
      return { sessionId: id, end: () => api.end({ action: 'end session', url: `${base}/${encodeURIComponent(id)}/end` }) };
    },
  };
}

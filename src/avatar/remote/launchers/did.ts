import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { DidProfile } from '../profiles.js';

const sessionSchema = z.object({ id: z.string().min(1) }).loose();

/**
 * D-ID agents: `POST /v2/agents/{agentId}/sessions/join` (`Authorization: Basic <DID_API_KEY>`, the
 * key as D-ID issues it) `{transport {provider: "livekit", server_url, token, room_name},
 * audio_config {sample_rate}}` → `{id}`. 16, 24 or 48 kHz (24 by default). No end call: removing
 * its participant ends the session.
 */
export function didLauncher(profile: DidProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'D-ID', keyEnv: 'DID_API_KEY', key: keys.did, auth: (k) => ({ authorization: `Basic ${k}` }) });
  const url = `${apiBase(profile.apiUrl)}/v2/agents/${encodeURIComponent(profile.agentId)}/sessions/join`;
  return {
    provider: 'did',
    label: 'D-ID',
    async launch(req: LaunchRequest) {
      const session = await api.launch(req, {
        action: 'join agent session',
        url,
        json: {
          transport: { provider: 'livekit', server_url: req.livekitUrl, token: req.token, room_name: req.room },
          audio_config: { sample_rate: profile.sampleRate },
        },
        schema: sessionSchema,
      });
      return { sessionId: session.id };
    },
  };
}

import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi, ProviderError } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { BithumanProfile } from '../profiles.js';

const startSchema = z.object({ avatar_session_started: z.boolean().optional(), session_id: z.string().min(1).optional(), model: z.string().optional() }).loose();

/**
 * bitHuman (cloud avatar), as bitHuman documents it for a LiveKit room: `POST
 * /v1/runtime-tokens/request` (`api-secret` header) `{livekit_url, livekit_token, room_name, mode,
 * model?, agent_id?, image?}` → `{avatar_session_started, session_id, model, …}`. `mode` is what
 * makes the call start an avatar: `gpu` for Expression models and photos, else `cpu` (which needs
 * an agent), as LiveKit's plugin picks it. 16 kHz. Close ends the session
 * (`POST /v1/runtime-sessions/{session_id}/end`), which stops billing and frees its concurrency
 * slot at once. The secret goes in that header only: the avatar's token carries no bitHuman
 * credential (LiveKit's Python plugin puts it in the participant attributes, which every
 * participant of the room can read).
 */
export function bithumanLauncher(profile: BithumanProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'bitHuman', keyEnv: 'BITHUMAN_API_SECRET', key: keys.bithuman, auth: (k) => ({ 'api-secret': k }) });
  const base = apiBase(profile.apiUrl);
  // A photo without an agent runs on Expression 1 only (bitHuman's docs): say so rather than leave it to bitHuman's pick.
  const model = profile.model ?? (profile.agentId ? undefined : 'expression-1');
  const mode = profile.imageUrl || model?.startsWith('expression') ? 'gpu' : 'cpu';
  return {
    provider: 'bithuman',
    label: 'bitHuman',
    async launch(req: LaunchRequest) {
      const started = await api.launch(req, {
        action: 'start cloud avatar',
        url: `${base}/v1/runtime-tokens/request`,
        json: {
          livekit_url: req.livekitUrl,
          livekit_token: req.token,
          room_name: req.room,
          mode,
          ...(model ? { model } : {}),
          ...(profile.agentId ? { agent_id: profile.agentId } : {}),
          ...(profile.imageUrl ? { image: profile.imageUrl } : {}),
        },
        schema: startSchema,
      });
      if (started.avatar_session_started === false) {
        throw new ProviderError('bitHuman start cloud avatar: answered without starting an avatar (avatar_session_started: false); check the profile\'s agentId and model');
      }
      // Without a model in the profile bitHuman picks one from the agent's: say which.
      if (started.model) req.logger.info({ model: started.model }, 'bitHuman serves the avatar as this model');
      const id = started.session_id;
      return id ? { sessionId: id, end: () => api.end({ action: 'end session', url: `${base}/v1/runtime-sessions/${encodeURIComponent(id)}/end` }) } : {};
    },
  };
}

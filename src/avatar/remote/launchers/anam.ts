import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { AnamProfile } from '../profiles.js';

const tokenSchema = z.object({ sessionToken: z.string().min(1) }).loose();
const engineSchema = z.object({ sessionId: z.string().min(1).optional() }).loose();

/**
 * Anam: an ephemeral persona's session token (`POST /v1/auth/session-token`, Bearer API key, with
 * `personaConfig {type: "ephemeral", name, avatarId, llmId: "CUSTOMER_CLIENT_V1"}` so Anam only
 * renders, and `environment {livekitUrl, livekitToken}`), then `POST /v1/engine/session` with that
 * token (Bearer). 24 kHz. No end call: the session ends when its participant is removed.
 */
export function anamLauncher(profile: AnamProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const apiKey = requireKey(keys.anam, 'Anam', 'ANAM_API_KEY');
  const base = profile.apiUrl.replace(/\/+$/, '');
  return {
    provider: 'anam',
    label: 'Anam',
    async launch(req: LaunchRequest) {
      const common = { provider: 'Anam', keyEnv: 'ANAM_API_KEY', timeoutMs: req.timeoutMs, signal: req.signal, secrets: [apiKey, req.token] };
      const { sessionToken } = await callProvider({
        ...common,
        action: 'create session token',
        url: `${base}/v1/auth/session-token`,
        headers: { authorization: `Bearer ${apiKey}` },
        json: {
          personaConfig: {
            type: 'ephemeral',
            name: profile.personaName,
            avatarId: profile.avatarId,
            llmId: 'CUSTOMER_CLIENT_V1',
            ...(profile.avatarModel ? { avatarModel: profile.avatarModel } : {}),
          },
          environment: { livekitUrl: req.livekitUrl, livekitToken: req.token },
        },
        schema: tokenSchema,
      });
      const engine = await callProvider({
        ...common,
        secrets: [...common.secrets, sessionToken],
        action: 'start engine session',
        url: `${base}/v1/engine/session`,
        headers: { authorization: `Bearer ${sessionToken}` },
        json: {},
        schema: engineSchema,
      });
      return engine.sessionId ? { sessionId: engine.sessionId } : {};
    },
  };
}

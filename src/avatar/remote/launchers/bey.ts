import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { BeyProfile } from '../profiles.js';

const sessionSchema = z.object({ id: z.string().min(1) }).loose();

/**
 * Beyond Presence: `POST /v1/session` `{avatar_id, livekit_url, livekit_token}` (x-api-key). The
 * API has no call to end a session; the session ends when its participant is removed from the
 * room, which close() does.
 */
export function beyLauncher(profile: BeyProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const apiKey = requireKey(keys.bey, 'Beyond Presence', 'BEY_API_KEY');
  const base = profile.apiUrl.replace(/\/+$/, '');
  return {
    provider: 'bey',
    label: 'Beyond Presence',
    async launch(req: LaunchRequest) {
      const session = await callProvider({
        provider: 'Beyond Presence',
        action: 'create session',
        keyEnv: 'BEY_API_KEY',
        url: `${base}/v1/session`,
        headers: { 'x-api-key': apiKey },
        json: { avatar_id: profile.avatarId, livekit_url: req.livekitUrl, livekit_token: req.token },
        schema: sessionSchema,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        secrets: [apiKey, req.token],
      });
      return { sessionId: session.id };
    },
  };
}

import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { SelfhostedProfile } from '../profiles.js';

// Our runner answers `{session, room, identity}`; other workers may say `id` or `session_id`.
const launchedSchema = z.object({ id: z.string().optional(), session_id: z.string().optional(), session: z.string().optional() }).loose();

/**
 * Your own avatar worker (ours is the avatar runner): `POST <launchUrl>` `{url, token, room}` with
 * `Authorization: Bearer $AVATAR_LAUNCH_SECRET`. The worker joins with the token and speaks the
 * DataStream avatar protocol. Removing its participant on close ends it.
 */
export function selfhostedLauncher(profile: SelfhostedProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const secret = requireKey(keys.launchSecret, 'Self-hosted avatar', 'AVATAR_LAUNCH_SECRET');
  const url = profile.launchUrl ?? `${profile.apiUrl.replace(/\/+$/, '')}/launch`;
  return {
    provider: 'selfhosted',
    label: 'Self-hosted avatar',
    async launch(req: LaunchRequest) {
      const answer = await callProvider({
        provider: 'Self-hosted avatar',
        action: 'launch',
        keyEnv: 'AVATAR_LAUNCH_SECRET',
        url,
        headers: { authorization: `Bearer ${secret}` },
        json: { url: req.livekitUrl, token: req.token, room: req.room },
        schema: launchedSchema,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        secrets: [secret, req.token],
      });
      const id = answer.id ?? answer.session_id ?? answer.session;
      return id ? { sessionId: id } : {};
    },
  };
}

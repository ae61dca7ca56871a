import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { SynthesiaProfile } from '../profiles.js';

const sessionSchema = z
  .object({ id: z.string().min(1).optional(), session_id: z.string().min(1).optional() })
  .loose()
  .refine((b) => Boolean(b.id ?? b.session_id), { error: 'no session id' });

/** Synthesia's public avatar ids start with `av_`; LiveKit's plugin adds it when missing. */
const publicAvatarId = (id: string) => (id.startsWith('av_') ? id : `av_${id}`);

/**
 * Synthesia interactive avatars: `POST /api/interactive-avatars/sessions` (`Authorization: <key>`,
 * the raw key) `{avatarIds, livekitUrl, livekitToken}` → 201 `{id}`. Errors are RFC 9457 problems
 * (`quota_exceeded` 402, `feature_not_in_plan` 403, `unknown_avatar` 404, `concurrency_limit` 429),
 * which our errors quote. Cold starts of 30-60 s are documented: the join deadline leaves room.
 * No end call: the session tears down when its participant leaves.
 */
export function synthesiaLauncher(profile: SynthesiaProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Synthesia', keyEnv: 'SYNTHESIA_API_KEY', key: keys.synthesia, auth: (k) => ({ authorization: k }) });
  return {
    provider: 'synthesia',
    label: 'Synthesia',
    async launch(req: LaunchRequest) {
      const session = await api.launch(req, {
        action: 'start interactive avatar session',
        url: `${apiBase(profile.apiUrl)}/api/interactive-avatars/sessions`,
        json: { avatarIds: profile.avatarIds.map(publicAvatarId), livekitUrl: req.livekitUrl, livekitToken: req.token },
        schema: sessionSchema,
      });
      return { sessionId: (session.id ?? session.session_id)! };
    },
  };
}

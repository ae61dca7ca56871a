import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { HedraProfile } from '../profiles.js';

/** Said with every Hedra failure, so nobody debugs their key for an hour. */
export const HEDRA_STATUS_NOTE =
  "Note: Hedra's realtime avatar service has been reported disabled since April 2026 (LiveKit's Hedra plugins now refuse to start); unless Hedra has re-enabled it for your account, use another provider";

/**
 * Hedra realtime (as documented before it was switched off): `POST /public/livekit/v1/session`,
 * multipart `livekit_url`, `livekit_token`, and `avatar_id` or an `avatar_image` JPEG (x-api-key).
 * 16 kHz over DataStream. No end call: removing the participant ends it.
 */
export function hedraLauncher(profile: HedraProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const apiKey = requireKey(keys.hedra, 'Hedra', 'HEDRA_API_KEY');
  const base = profile.apiUrl.replace(/\/+$/, '');
  return {
    provider: 'hedra',
    label: 'Hedra',
    failureNote: HEDRA_STATUS_NOTE,
    async launch(req: LaunchRequest) {
      const form = new FormData();
      form.set('livekit_url', req.livekitUrl);
      form.set('livekit_token', req.token);
      if (profile.avatarId) form.set('avatar_id', profile.avatarId);
      if (profile.avatarImage) {
        const path = resolve(profile.avatarImage);
        const image = await readFile(path).catch((err: NodeJS.ErrnoException) => {
          throw new Error(`Hedra avatarImage ${path}: ${err.code ?? err.message}`);
        });
        form.set('avatar_image', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'avatar.jpg');
      }
      await callProvider({
        provider: 'Hedra',
        action: 'create session',
        keyEnv: 'HEDRA_API_KEY',
        url: `${base}/public/livekit/v1/session`,
        headers: { 'x-api-key': apiKey },
        form,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        secrets: [apiKey, req.token],
      });
      return {};
    },
  };
}

import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import { LiveAvatarOutput } from '../liveavatar-output.js';
import type { LiveAvatarProfile } from '../profiles.js';

const tokenSchema = z.object({ data: z.object({ session_id: z.string().min(1), session_token: z.string().min(1) }).loose() }).loose();
const startSchema = z.object({ data: z.object({ ws_url: z.string().regex(/^wss?:\/\//) }).loose() }).loose();

/**
 * HeyGen LiveAvatar, LITE mode (LiveAvatar renders, we bring the voice): `POST /v1/sessions/token`
 * (X-API-KEY) with `mode: "LITE"`, the avatar and `livekit_config {livekit_room, livekit_url,
 * livekit_client_token}`; then `POST /v1/sessions/start` with the session token (Bearer), whose
 * answer carries the websocket that takes the speech (see liveavatar-output.ts). Close stops the
 * session (`POST /v1/sessions/stop`). Its avatar's token may also update its own metadata and
 * subscribe to metrics, as LiveKit's LiveAvatar plugin grants it.
 */
export function liveAvatarLauncher(profile: LiveAvatarProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const apiKey = requireKey(keys.liveavatar, 'LiveAvatar', 'LIVEAVATAR_API_KEY');
  const base = `${profile.apiUrl.replace(/\/+$/, '')}/v1/sessions`;
  return {
    provider: 'liveavatar',
    label: 'LiveAvatar',
    tokenGrants: { canUpdateOwnMetadata: true, canSubscribeMetrics: true },
    async launch(req: LaunchRequest) {
      const common = { provider: 'LiveAvatar', keyEnv: 'LIVEAVATAR_API_KEY', timeoutMs: req.timeoutMs, signal: req.signal };
      const created = await callProvider({
        ...common,
        action: 'create session token',
        url: `${base}/token`,
        headers: { 'x-api-key': apiKey },
        json: {
          mode: 'LITE',
          avatar_id: profile.avatarId,
          is_sandbox: profile.sandbox,
          ...(profile.videoQuality ? { video_quality: profile.videoQuality } : {}),
          livekit_config: { livekit_room: req.room, livekit_url: req.livekitUrl, livekit_client_token: req.token },
        },
        schema: tokenSchema,
        secrets: [apiKey, req.token],
      });
      const { session_id: sessionId, session_token: sessionToken } = created.data;
      const bearer = { authorization: `Bearer ${sessionToken}` };
      const stop = async () => {
        await callProvider({
          ...common,
          signal: undefined,
          timeoutMs: 5000,
          action: 'stop session',
          url: `${base}/stop`,
          headers: bearer,
          json: { session_id: sessionId, reason: 'USER_DISCONNECTED' },
          secrets: [apiKey, sessionToken],
        });
      };
      let started;
      try {
        started = await callProvider({
          ...common,
          action: 'start session',
          url: `${base}/start`,
          headers: bearer,
          json: { session_id: sessionId },
          schema: startSchema,
          secrets: [apiKey, req.token, sessionToken],
        });
      } catch (err) {
        await stop().catch(() => {});
        throw err;
      }
      const output = new LiveAvatarOutput({ wsUrl: started.data.ws_url, logger: req.logger, keepAliveSec: profile.keepAliveSec });
      return {
        sessionId,
        output,
        lost: output.lost,
        end: async () => {
          await output.close();
          await stop();
        },
      };
    },
  };
}

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { TavusProfile } from '../profiles.js';

const conversationSchema = z.object({ conversation_id: z.string().min(1) }).loose();

/**
 * Tavus CVI: `POST /v2/conversations` with the PAL (formerly persona) and face (formerly replica),
 * and `properties.livekit_ws_url / livekit_room_token`: Tavus' avatar joins the room and renders
 * the speech it receives over DataStream (24 kHz). The PAL must be echo mode with the livekit
 * transport (see tavus-pal.ts). Close ends the conversation (`POST /v2/conversations/{id}/end`),
 * which stops Tavus billing for it.
 */
export function tavusLauncher(profile: TavusProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const apiKey = requireKey(keys.tavus, 'Tavus', 'TAVUS_API_KEY');
  const base = profile.apiUrl.replace(/\/+$/, '');
  const common = { provider: 'Tavus', keyEnv: 'TAVUS_API_KEY', headers: { 'x-api-key': apiKey }, secrets: [apiKey] };
  return {
    provider: 'tavus',
    label: 'Tavus',
    async launch(req: LaunchRequest) {
      const body = {
        pal_id: profile.palId,
        ...(profile.faceId ? { face_id: profile.faceId } : {}),
        conversation_name: profile.conversationName ?? `voice-avatar-worker ${req.room} ${randomUUID().slice(0, 8)}`,
        properties: { livekit_ws_url: req.livekitUrl, livekit_room_token: req.token },
      };
      const { conversation_id } = await callProvider({
        ...common,
        action: 'create conversation',
        url: `${base}/v2/conversations`,
        json: body,
        schema: conversationSchema,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        secrets: [apiKey, req.token],
      });
      return {
        sessionId: conversation_id,
        end: async () => {
          await callProvider({
            ...common,
            action: 'end conversation',
            url: `${base}/v2/conversations/${encodeURIComponent(conversation_id)}/end`,
            timeoutMs: 5000,
          }).catch((err: unknown) => {
            // Already ended (the avatar left first): nothing left to pay for.
            const status = (err as { status?: number }).status;
            if (status === 400 || status === 404) return;
            throw err;
          });
        },
      };
    },
  };
}

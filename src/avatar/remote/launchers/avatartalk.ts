import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { AvatarTalkProfile } from '../profiles.js';
import { mintListenerToken } from '../token.js';

/** The participant of AvatarTalk's that hears the speech, as LiveKit's AvatarTalk plugin names it (fixed there too). */
export const AVATARTALK_LISTENER_IDENTITY = 'listener';

const sessionSchema = z.object({ task_id: z.string().min(1) }).loose();

/**
 * AvatarTalk: `POST /livekit/create-session` (Bearer) `{livekit_url, avatar, emotion, room_name,
 * room_token, listener_token, agent_identity}` → `{task_id}`. Two participants join: the avatar
 * (`room_token`: ours, an agent on the agent's behalf) publishes the video, and `listener`
 * (`listener_token`: a plain participant with no attributes, as LiveKit's plugin mints it) hears
 * the speech over DataStream at 16 kHz. Close deletes the session
 * (`DELETE /livekit/delete-session/{task_id}`).
 */
export function avatarTalkLauncher(profile: AvatarTalkProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'AvatarTalk', keyEnv: 'AVATARTALK_API_KEY', key: keys.avatartalk, auth: (k) => ({ authorization: `Bearer ${k}` }) });
  const base = apiBase(profile.apiUrl);
  return {
    provider: 'avatartalk',
    label: 'AvatarTalk',
    speechIdentity: AVATARTALK_LISTENER_IDENTITY,
    async launch(req: LaunchRequest) {
      const listenerToken = await mintListenerToken({ livekit: req.livekitKeys, room: req.room, identity: AVATARTALK_LISTENER_IDENTITY });
      const { task_id } = await api.launch(
        req,
        {
          action: 'create session',
          url: `${base}/livekit/create-session`,
          json: {
            livekit_url: req.livekitUrl,
            avatar: profile.avatar,
            emotion: profile.emotion,
            room_name: req.room,
            room_token: req.token,
            listener_token: listenerToken,
            agent_identity: req.agentIdentity,
          },
          schema: sessionSchema,
        },
        [listenerToken],
      );
      return { sessionId: task_id, end: () => api.end({ action: 'delete session', method: 'DELETE', url: `${base}/livekit/delete-session/${encodeURIComponent(task_id)}` }) };
    },
  };
}

import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { RunwayProfile } from '../profiles.js';

/** The API version LiveKit's Runway plugins send. */
export const RUNWAY_API_VERSION = '2024-11-06';
const sessionSchema = z.object({ id: z.string().min(1).optional() }).loose();

/**
 * Runway (GWM-1 avatars): `POST /v1/realtime_sessions` (Bearer RUNWAYML_API_SECRET,
 * `X-Runway-Version`) `{model: "gwm1_avatars", avatar {type: "custom", avatarId} or
 * {type: "runway-preset", presetId}, livekit {url, token, roomName, agentIdentity}, maxDuration?}`.
 * 16 kHz. Close sends the avatar `{"type": "END_CALL"}` (reliable data), as LiveKit's plugin ends
 * the session, before its participant is removed.
 */
export function runwayLauncher(profile: RunwayProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const api = providerApi({ provider: 'Runway', keyEnv: 'RUNWAYML_API_SECRET', key: keys.runway, auth: (k) => ({ authorization: `Bearer ${k}`, 'x-runway-version': RUNWAY_API_VERSION }) });
  const avatar = profile.avatarId ? { type: 'custom', avatarId: profile.avatarId } : { type: 'runway-preset', presetId: profile.presetId };
  return {
    provider: 'runway',
    label: 'Runway',
    async launch(req: LaunchRequest) {
      const session = await api.launch(req, {
        action: 'create realtime session',
        url: `${apiBase(profile.apiUrl)}/v1/realtime_sessions`,
        json: {
          model: 'gwm1_avatars',
          avatar,
          livekit: { url: req.livekitUrl, token: req.token, roomName: req.room, agentIdentity: req.agentIdentity },
          ...(profile.maxDurationSec ? { maxDuration: profile.maxDurationSec } : {}),
        },
        schema: sessionSchema,
      });
      return {
        ...(session.id ? { sessionId: session.id } : {}),
        end: () => req.sendToAvatar(JSON.stringify({ type: 'END_CALL' })),
        endInRoom: true,
      };
    },
  };
}

import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { callProvider, requireKey } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { LemonSliceProfile } from '../profiles.js';

const sessionSchema = z.object({ session_id: z.string().min(1) }).loose();

/**
 * LemonSlice: `POST /api/liveai/sessions` (X-API-Key) with `transport_type: "livekit"`,
 * `properties {livekit_url, livekit_token, livekit_session_id}` and the agent id or image URL.
 * 16 kHz; its avatar calls lk.playback_started, so playback start is held for it. There is no end
 * call: removing its participant ends the session, and `idleTimeoutSec` caps an orphan's cost.
 */
export function lemonSliceLauncher(profile: LemonSliceProfile, keys: AvatarKeys = {}): RemoteLauncher {
  const apiKey = requireKey(keys.lemonslice, 'LemonSlice', 'LEMONSLICE_API_KEY');
  const base = profile.apiUrl.replace(/\/+$/, '');
  return {
    provider: 'lemonslice',
    label: 'LemonSlice',
    async launch(req: LaunchRequest) {
      const body = {
        transport_type: 'livekit',
        properties: { livekit_url: req.livekitUrl, livekit_token: req.token, ...(req.roomSid ? { livekit_session_id: req.roomSid } : {}) },
        ...(profile.agentId ? { agent_id: profile.agentId } : {}),
        ...(profile.agentImageUrl ? { agent_image_url: profile.agentImageUrl } : {}),
        ...(profile.agentPrompt ? { agent_prompt: profile.agentPrompt } : {}),
        ...(profile.agentIdlePrompt ? { agent_idle_prompt: profile.agentIdlePrompt } : {}),
        ...(profile.idleTimeoutSec ? { idle_timeout: profile.idleTimeoutSec } : {}),
      };
      const session = await callProvider({
        provider: 'LemonSlice',
        action: 'create session',
        keyEnv: 'LEMONSLICE_API_KEY',
        url: `${base}/api/liveai/sessions`,
        headers: { 'x-api-key': apiKey },
        json: body,
        schema: sessionSchema,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        secrets: [apiKey, req.token],
      });
      return { sessionId: session.session_id };
    },
  };
}

import { randomUUID } from 'node:crypto';
import { AccessToken } from 'livekit-server-sdk';
import { z } from 'zod';
import type { AvatarKeys } from '../../../config/config.js';
import { apiBase, providerApi, ProviderError } from '../http.js';
import type { LaunchRequest, RemoteLauncher } from '../launcher.js';
import type { InferenceProfile } from '../profiles.js';

const sessionSchema = z
  .object({
    session_id: z.string().min(1).optional(),
    provider_session_id: z.string().min(1).optional(),
    terminate_token: z.string().min(1).optional(),
    avatar_identity: z.string().min(1).optional(),
    sample_rate: z.number().int().positive().optional(),
  })
  .loose();

/** The gateway's auth, as agents 1.9 makes it: a 10-minute JWT of the worker's LiveKit key pair with an inference grant. */
async function gatewayToken(keys: { apiKey: string; apiSecret: string }): Promise<string> {
  const token = new AccessToken(keys.apiKey, keys.apiSecret, { identity: 'agent', ttl: 600 });
  token.addInferenceGrant({ perform: true });
  return token.toJwt();
}

/**
 * LiveKit Inference avatars, as agents 1.9's `inference.AvatarSession`: `POST <gateway>/avatar/sessions`
 * (Bearer: a JWT of the worker's LiveKit key pair with an inference grant; `Idempotency-Key`;
 * `X-LiveKit-Inference-Provider`) `{provider, livekit_url, room_name, room_sid, avatar_identity,
 * avatar_name, agent_identity, avatar_id?, image_url?, prompt?, idle_prompt?, idle_timeout_s?}` →
 * `{session_id, provider_session_id, terminate_token, avatar_identity, sample_rate}`. The gateway
 * mints the avatar's room token: the worker holds no provider key. Speech at the answered rate (16 kHz
 * when absent), playback start held for the avatar. Close: `POST <gateway>/avatar/sessions/terminate`.
 */
export function inferenceLauncher(profile: InferenceProfile, _keys: AvatarKeys = {}): RemoteLauncher {
  const [provider, ...rest] = profile.model.split('/');
  const avatarId = rest.join('/') || undefined;
  const base = `${apiBase(profile.apiUrl)}/avatar/sessions`;
  const idempotencyKey = randomUUID().replaceAll('-', '');
  return {
    provider: 'inference',
    label: 'LiveKit Inference avatar',
    async launch(req: LaunchRequest) {
      if (!req.roomSid) throw new ProviderError("LiveKit Inference avatar: the room's sid is not known yet, and the gateway needs it");
      const bearer = await gatewayToken(req.livekitKeys);
      const api = providerApi({
        provider: 'LiveKit Inference avatar',
        keyEnv: 'LIVEKIT_API_KEY / LIVEKIT_API_SECRET (a LiveKit Cloud project with Inference)',
        key: bearer,
        auth: (k) => ({ authorization: `Bearer ${k}`, 'x-livekit-inference-provider': provider! }),
      });
      const answer = await api.launch(req, {
        action: 'create session',
        url: base,
        headers: { 'idempotency-key': idempotencyKey },
        json: {
          provider,
          livekit_url: req.livekitUrl,
          room_name: req.room,
          room_sid: req.roomSid,
          avatar_identity: req.avatarIdentity,
          avatar_name: req.avatarName ?? req.avatarIdentity,
          agent_identity: req.agentIdentity,
          ...(avatarId ? { avatar_id: avatarId } : {}),
          ...(profile.imageUrl ? { image_url: profile.imageUrl } : {}),
          ...(profile.prompt ? { prompt: profile.prompt } : {}),
          ...(profile.idlePrompt ? { idle_prompt: profile.idlePrompt } : {}),
          ...(profile.idleTimeoutSec ? { idle_timeout_s: profile.idleTimeoutSec } : {}),
        },
        schema: sessionSchema,
      });
      const { provider_session_id: providerSessionId, terminate_token: terminateToken } = answer;
      const end =
        providerSessionId && terminateToken
          ? async () => {
              const fresh = providerApi({ provider: 'LiveKit Inference avatar', keyEnv: 'LIVEKIT_API_KEY', key: await gatewayToken(req.livekitKeys), auth: (k) => ({ authorization: `Bearer ${k}` }) });
              await fresh.end({ action: 'terminate session', url: `${base}/terminate`, json: { provider, provider_session_id: providerSessionId, terminate_token: terminateToken } });
            }
          : undefined;
      if (!end) req.logger.warn({ sessionId: answer.session_id }, 'the gateway gave no terminate token: this avatar session bills until its provider idle timeout');
      // Its avatar joins under the identity the gateway minted; another than ours would never be found.
      if (answer.avatar_identity && answer.avatar_identity !== req.avatarIdentity) {
        await end?.().catch(() => undefined);
        throw new ProviderError(`LiveKit Inference avatar: the gateway minted the avatar's token for ${answer.avatar_identity}, not ${req.avatarIdentity}; set avatarIdentity in the profile to ${answer.avatar_identity}`);
      }
      return {
        ...(answer.session_id ? { sessionId: answer.session_id } : {}),
        ...(answer.sample_rate ? { sampleRate: answer.sample_rate } : {}),
        ...(end ? { end } : {}),
      };
    },
  };
}

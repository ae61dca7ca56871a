/**
 * Fake LiveKit Inference avatar gateway (`<LIVEKIT_INFERENCE_URL>`, by default
 * https://agent-gateway.livekit.cloud/v1): `POST /avatar/sessions` (Bearer: a JWT signed with the
 * project's LiveKit key pair carrying an inference grant; `Idempotency-Key`) `{provider,
 * livekit_url, room_name, room_sid, avatar_identity, avatar_name, agent_identity, avatar_id?,
 * image_url?, prompt?, idle_prompt?, idle_timeout_s?, extra_kwargs?}` → `{session_id,
 * provider_session_id, terminate_token, avatar_identity, sample_rate}`: the gateway mints the
 * avatar's room token itself and its avatar joins with it. The same Idempotency-Key answers the
 * same session. `POST /avatar/sessions/terminate` `{provider, provider_session_id, terminate_token}`
 * ends it (an ended session is success). Errors: `{ error }`.
 */
import { randomUUID } from 'node:crypto';
import { AccessToken, TokenVerifier } from 'livekit-server-sdk';
import { z } from 'zod';
import { bearerOf, livekitUrl, ProviderCore, type Ctx, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({
  provider: z.string().min(1),
  livekit_url: livekitUrl,
  room_name: z.string().min(1),
  room_sid: z.string().min(1),
  avatar_identity: z.string().min(1),
  avatar_name: z.string().min(1).optional(),
  agent_identity: z.string().min(1),
  avatar_id: z.string().min(1).optional(),
  image_url: z.url().optional(),
  prompt: z.string().optional(),
  idle_prompt: z.string().optional(),
  idle_timeout_s: z.number().positive().optional(),
  extra_kwargs: z.record(z.string(), z.unknown()).optional(),
});
const terminateBody = z.strictObject({ provider: z.string().min(1), provider_session_id: z.string().min(1), terminate_token: z.string().min(1) });

export interface FakeInferenceGateway extends ProviderFake {
  /** Providers the gateway serves (`lemonslice` by default) and the rate each answers. */
  readonly providers: Map<string, number>;
  /** Answer with this avatar identity instead of the one asked for (an older or misbehaving gateway). */
  mintIdentity?: string;
}

export async function startFakeInferenceGateway(opts: ProviderFakeOptions & { providers?: Record<string, number> }): Promise<FakeInferenceGateway> {
  const core = new ProviderCore('inference', opts, (_status, message) => ({ error: message }));
  const providers = new Map(Object.entries(opts.providers ?? { lemonslice: 16_000 }));
  const byKey = new Map<string, unknown>();
  const terminateTokens = new Map<string, string>();
  const fake = Object.assign(core, { providers, mintIdentity: undefined as string | undefined });
  /** The Bearer JWT: signed with the project's key pair, not expired, with an inference grant. */
  const authorized = async (ctx: Ctx): Promise<boolean> => {
    const jwt = bearerOf(ctx);
    ctx.record.apiKey = jwt;
    const claims = jwt ? await new TokenVerifier(opts.livekit.apiKey, opts.livekit.apiSecret).verify(jwt).catch(() => undefined) : undefined;
    if (claims?.inference?.perform) return true;
    core.refuse(ctx, 401, claims ? 'token lacks the inference grant' : 'Authorization: Bearer must be a JWT of the project key pair');
    return false;
  };
  await core.start([
    {
      method: 'POST',
      path: /^\/avatar\/sessions$/,
      endpoint: 'sessions',
      session: true,
      async handle(ctx) {
        if (!(await authorized(ctx))) return;
        const body = core.json(ctx, sessionBody);
        if (!body) return;
        const idem = ctx.headers['idempotency-key'] as string | undefined;
        if (idem && byKey.has(idem)) return core.answer(ctx, 200, byKey.get(idem));
        const rate = providers.get(body.provider);
        if (!rate) return core.refuse(ctx, 404, `avatar provider ${body.provider} is not available through LiveKit Inference`);
        const identity = fake.mintIdentity ?? body.avatar_identity;
        const at = new AccessToken(opts.livekit.apiKey, opts.livekit.apiSecret, { identity, name: body.avatar_name ?? identity });
        at.kind = 'agent';
        at.attributes = { 'lk.publish_on_behalf': body.agent_identity };
        at.addGrant({ roomJoin: true, room: body.room_name, canPublish: true, canSubscribe: true, canPublishData: true });
        const token = await at.toJwt();
        if (!(await core.verifyToken(ctx, token, body.livekit_url))) return;
        const providerSessionId = `${body.provider}_${randomUUID()}`;
        const terminateToken = randomUUID();
        terminateTokens.set(providerSessionId, terminateToken);
        const answer = { session_id: randomUUID(), provider_session_id: providerSessionId, terminate_token: terminateToken, avatar_identity: identity, sample_rate: rate };
        if (idem) byKey.set(idem, answer);
        core.answer(ctx, 200, answer);
        core.joinLater(body.livekit_url, token, providerSessionId);
      },
    },
    {
      method: 'POST',
      path: /^\/avatar\/sessions\/terminate$/,
      endpoint: 'terminate',
      async handle(ctx) {
        if (!(await authorized(ctx))) return;
        const body = core.json(ctx, terminateBody);
        if (!body) return;
        if (terminateTokens.get(body.provider_session_id) !== body.terminate_token) return core.refuse(ctx, 403, 'terminate_token does not match the session');
        await core.endSession(body.provider_session_id);
        core.answer(ctx, 200, {});
      },
    },
  ]);
  return fake;
}

/**
 * Fake Anam API (https://api.anam.ai): `POST /v1/auth/session-token` (Bearer API key) with an
 * ephemeral `personaConfig` (`llmId: "CUSTOMER_CLIENT_V1"`: Anam renders only) and
 * `environment {livekitUrl, livekitToken}` → `{sessionToken}`; `POST /v1/engine/session`
 * (Bearer session token) → `{sessionId, …}`, and the avatar joins. Errors: `{ error }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { bearer, jwt, ProviderCore, livekitUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const tokenBody = z.strictObject({
  personaConfig: z.strictObject({
    type: z.literal('ephemeral'),
    name: z.string().min(1),
    avatarId: z.string().min(1),
    llmId: z.literal('CUSTOMER_CLIENT_V1'),
    avatarModel: z.string().optional(),
    directorNotes: z.record(z.string(), z.unknown()).optional(),
  }),
  environment: z.strictObject({ livekitUrl: livekitUrl, livekitToken: jwt }),
  sessionOptions: z.record(z.string(), z.unknown()).optional(),
});

export async function startFakeAnam(opts: ProviderFakeOptions): Promise<ProviderFake> {
  const core = new ProviderCore('anam', opts, (_status, message) => ({ error: message }));
  const pending = new Map<string, { url: string; token: string }>();
  return core.start([
    {
      method: 'POST',
      path: /^\/v1\/auth\/session-token$/,
      endpoint: 'session-token',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, bearer(ctx.headers.authorization), 'Authorization: Bearer')) return;
        const body = core.json(ctx, tokenBody);
        if (!body) return;
        if (!(await core.verifyToken(ctx, body.environment.livekitToken, body.environment.livekitUrl))) return;
        const sessionToken = `anam-st-${randomUUID()}`;
        pending.set(sessionToken, { url: body.environment.livekitUrl, token: body.environment.livekitToken });
        core.answer(ctx, 200, { sessionToken });
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/engine\/session$/,
      endpoint: 'engine-session',
      session: true,
      handle(ctx) {
        const st = bearer(ctx.headers.authorization);
        ctx.record.apiKey = st;
        const env = st ? pending.get(st) : undefined;
        if (!env) return core.refuse(ctx, 401, 'engine session needs the session token (Bearer), not the API key');
        if (core.json(ctx, z.strictObject({})) === undefined) return;
        pending.delete(st!);
        const sessionId = randomUUID();
        core.answer(ctx, 200, { sessionId, engineHost: '127.0.0.1', engineProtocol: 'https', signallingEndpoint: '/ws' });
        core.joinLater(env.url, env.token, sessionId);
      },
    },
  ]);
}

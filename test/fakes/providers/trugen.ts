/**
 * Fake Trugen API (https://api.trugen.ai): `POST /v1/sessions` (x-api-key) `{avatar_id,
 * livekit_url, livekit_token}` → `{id}`, and the avatar joins. No end call. Errors: `{ error }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { header, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({ avatar_id: z.string().min(1), livekit_url: livekitUrl, livekit_token: jwt });

export async function startFakeTrugen(opts: ProviderFakeOptions & { avatars?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('trugen', opts, (_status, message) => ({ error: message }));
  // The stock avatar LiveKit's Trugen plugins use is there for every account.
  const avatars = new Set(['7d881c1b', ...(opts.avatars ?? [])]);
  return core.start([
    sessionRoute(core, {
      path: /^\/v1\/sessions$/,
      endpoint: 'sessions',
      key: header('x-api-key'),
      keyWhere: 'x-api-key',
      body: sessionBody,
      check: (b) => (avatars.has(b.avatar_id) ? undefined : [404, `avatar ${b.avatar_id} not found`]),
      livekit: (b) => ({ url: b.livekit_url, token: b.livekit_token }),
      newId: () => randomUUID(),
      answer: (_b, id) => [200, { id }],
    }),
  ]);
}

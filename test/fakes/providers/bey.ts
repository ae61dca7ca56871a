/**
 * Fake Beyond Presence API (https://api.bey.dev): `POST /v1/session` (x-api-key)
 * `{avatar_id, livekit_url, livekit_token}` → 201 `{id, created_at, avatar_id, livekit_url,
 * livekit_token}`, and the avatar joins. No end call exists. Errors: `{ detail }` (FastAPI).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jwt, ProviderCore, livekitUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({ avatar_id: z.string().min(1), livekit_url: livekitUrl, livekit_token: jwt });

export async function startFakeBey(opts: ProviderFakeOptions & { avatars?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('bey', opts, (_status, message) => ({ detail: message }));
  // The stock avatar "Ege" is there for every account (LiveKit's Bey plugins use it when none is given).
  const avatars = new Set(['b9be11b8-89fb-4227-8f86-4a881393cbdb', ...(opts.avatars ?? [])]);
  return core.start([
    {
      method: 'POST',
      path: /^\/v1\/session$/,
      endpoint: 'session',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'x-api-key')) return;
        const body = core.json(ctx, sessionBody);
        if (!body) return;
        if (!avatars.has(body.avatar_id)) return core.refuse(ctx, 404, `avatar ${body.avatar_id} not found`);
        if (!(await core.verifyToken(ctx, body.livekit_token, body.livekit_url))) return;
        const id = randomUUID();
        core.answer(ctx, 201, { id, created_at: new Date().toISOString(), ...body });
        core.joinLater(body.livekit_url, body.livekit_token, id);
      },
    },
  ]);
}

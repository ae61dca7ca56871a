/**
 * Fake self-hosted avatar launcher (what the avatar runner's `POST /launch` takes): Bearer
 * AVATAR_LAUNCH_SECRET, `{url, token}` and an optional `room` → `{id}`, and the avatar joins.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { bearer, jwt, ProviderCore, livekitUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const launchBody = z.strictObject({ url: livekitUrl, token: jwt, room: z.string().min(1).optional() });

export async function startFakeSelfhosted(opts: ProviderFakeOptions): Promise<ProviderFake> {
  const core = new ProviderCore('selfhosted', opts, (_status, message) => ({ error: message }));
  return core.start([
    {
      method: 'POST',
      path: /^\/launch$/,
      endpoint: 'launch',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, bearer(ctx.headers.authorization), 'Authorization: Bearer')) return;
        const body = core.json(ctx, launchBody);
        if (!body) return;
        const token = await core.verifyToken(ctx, body.token, body.url);
        if (!token) return;
        if (body.room && body.room !== token.room) return core.refuse(ctx, 422, `room ${body.room} is not the token's room ${token.room}`);
        const id = randomUUID();
        core.answer(ctx, 200, { id });
        core.joinLater(body.url, body.token, id);
      },
    },
  ]);
}

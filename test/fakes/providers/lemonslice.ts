/**
 * Fake LemonSlice API (https://lemonslice.com): `POST /api/liveai/sessions` (X-API-Key) with
 * `transport_type: "livekit"`, `properties {livekit_url, livekit_token, livekit_session_id?}` and
 * exactly one of `agent_id` / `agent_image_url` → `{session_id}`, and the avatar joins (it calls
 * lk.playback_started). Errors: `{ error }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jwt, ProviderCore, wsUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z
  .strictObject({
    transport_type: z.literal('livekit'),
    properties: z.strictObject({ livekit_url: wsUrl, livekit_token: jwt, livekit_session_id: z.string().min(1).optional() }),
    agent_id: z.string().min(1).optional(),
    agent_image_url: z.url().optional(),
    agent_prompt: z.string().optional(),
    agent_idle_prompt: z.string().optional(),
    idle_timeout: z.number().int().positive().optional(),
  })
  .refine((b) => Boolean(b.agent_id) !== Boolean(b.agent_image_url), { error: 'exactly one of agent_id or agent_image_url' });

export async function startFakeLemonSlice(opts: ProviderFakeOptions): Promise<ProviderFake> {
  const core = new ProviderCore('lemonslice', opts, (_status, message) => ({ error: message }));
  return core.start([
    {
      method: 'POST',
      path: /^\/api\/liveai\/sessions$/,
      endpoint: 'sessions',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'X-API-Key')) return;
        const body = core.json(ctx, sessionBody);
        if (!body) return;
        if (!(await core.verifyToken(ctx, body.properties.livekit_token, body.properties.livekit_url))) return;
        const id = `ls_${randomUUID()}`;
        core.answer(ctx, 200, { session_id: id });
        core.joinLater(body.properties.livekit_url, body.properties.livekit_token, id);
      },
    },
  ]);
}

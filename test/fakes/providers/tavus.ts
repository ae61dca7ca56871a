/**
 * Fake Tavus API (https://tavusapi.com): `POST /v2/conversations` (x-api-key; `pal_id` or the
 * deprecated `persona_id`, optional `face_id`/`replica_id`, `properties.livekit_ws_url` and
 * `livekit_room_token`) → `{conversation_id, status: "active", …}`, and the avatar joins;
 * `POST /v2/conversations/{id}/end` ends it (the avatar leaves); `POST /v2/pals` creates an
 * echo-mode livekit-transport PAL. Errors are `{ message }` as Tavus answers.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jwt, ProviderCore, livekitUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const conversationBody = z.strictObject({
  pal_id: z.string().min(1).optional(),
  persona_id: z.string().min(1).optional(),
  face_id: z.string().min(1).optional(),
  replica_id: z.string().min(1).optional(),
  conversation_name: z.string().max(200).optional(),
  properties: z.looseObject({ livekit_ws_url: livekitUrl, livekit_room_token: jwt }),
});

const palBody = z.strictObject({
  pal_name: z.string().min(1),
  default_face_id: z.string().min(1),
  pipeline_mode: z.literal('echo'),
  layers: z.strictObject({ transport: z.strictObject({ transport_type: z.literal('livekit') }) }),
});

/** Tavus' stock echo-mode, livekit-transport PAL, usable by every account. */
export const TAVUS_STOCK_PAL = 'pb87e71797da';

export interface FakeTavus extends ProviderFake {
  /** PAL ids this account can use (echo-mode, livekit transport); a conversation with another is refused. */
  readonly pals: Set<string>;
}

export async function startFakeTavus(opts: ProviderFakeOptions & { pals?: string[] }): Promise<FakeTavus> {
  const core = new ProviderCore('tavus', opts, (_status, message) => ({ message }));
  // Tavus' stock PAL (LiveKit's plugins use it when none is given) is there for every account.
  const pals = new Set([TAVUS_STOCK_PAL, ...(opts.pals ?? ['p-echo-1'])]);
  await core.start([
    {
      method: 'POST',
      path: /^\/v2\/conversations$/,
      endpoint: 'conversations',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'x-api-key')) return;
        const body = core.json(ctx, conversationBody);
        if (!body) return;
        const pal = body.pal_id ?? body.persona_id;
        if (!pal) return core.refuse(ctx, 400, 'pal_id is required');
        if (!pals.has(pal)) return core.refuse(ctx, 404, `pal ${pal} not found`);
        const token = await core.verifyToken(ctx, body.properties.livekit_room_token, body.properties.livekit_ws_url);
        if (!token) return;
        const id = `c${randomUUID().replace(/-/g, '').slice(0, 12)}`;
        core.answer(ctx, 200, {
          conversation_id: id,
          conversation_name: body.conversation_name ?? 'New Conversation',
          status: 'active',
          conversation_url: `https://tavus.daily.co/${id}`,
          created_at: new Date().toISOString(),
        });
        core.joinLater(body.properties.livekit_ws_url, body.properties.livekit_room_token, id);
      },
    },
    {
      method: 'POST',
      path: /^\/v2\/conversations\/([^/]+)\/end$/,
      endpoint: 'end',
      async handle(ctx, [id]) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'x-api-key')) return;
        if (!(await core.endSession(id!))) return core.answer(ctx, 400, { error: 'Invalid conversation_id' });
        core.answer(ctx, 200, {});
      },
    },
    {
      method: 'POST',
      path: /^\/v2\/pals$/,
      endpoint: 'pals',
      handle(ctx) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'x-api-key')) return;
        const body = core.json(ctx, palBody);
        if (!body) return;
        const id = `p${randomUUID().replace(/-/g, '').slice(0, 11)}`;
        pals.add(id);
        core.answer(ctx, 200, { pal_id: id, pal_name: body.pal_name, status: 'active', created_at: new Date().toISOString() });
      },
    },
  ]);
  return Object.assign(core, { pals });
}

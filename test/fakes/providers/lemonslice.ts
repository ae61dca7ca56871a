/**
 * Fake LemonSlice API (https://lemonslice.com): `POST /api/liveai/sessions` (X-API-Key) with
 * `transport_type: "livekit"`, `properties {livekit_url, livekit_token, livekit_session_id?}` and
 * exactly one of `agent_id` / `agent_image_url` → `{session_id}`, and the avatar joins (it calls
 * lk.playback_started). Errors: `{ error }`. An image to animate may instead be uploaded as
 * multipart/form-data: the same body as JSON text in `payload`, the PNG/JPEG/WebP in `image` (what
 * LiveKit's LemonSlice plugin sends for `agentImage`).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jwt, ProviderCore, livekitUrl, type Ctx, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionFields = {
  transport_type: z.literal('livekit'),
  properties: z.strictObject({ livekit_url: livekitUrl, livekit_token: jwt, livekit_session_id: z.string().min(1).optional() }),
  agent_id: z.string().min(1).optional(),
  agent_image_url: z.url().optional(),
  agent_prompt: z.string().optional(),
  agent_idle_prompt: z.string().optional(),
  idle_timeout: z.number().int().positive().optional(),
};
const sessionBody = z.strictObject(sessionFields).refine((b) => Boolean(b.agent_id) !== Boolean(b.agent_image_url), { error: 'exactly one of agent_id or agent_image_url' });
const uploadBody = z.strictObject(sessionFields).refine((b) => !b.agent_id && !b.agent_image_url, { error: 'an uploaded image replaces agent_id and agent_image_url' });
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp']);

export interface FakeLemonSlice extends ProviderFake {
  /** Images uploaded with a session, by session id. */
  readonly images: Map<string, { type: string; size: number }>;
}

export async function startFakeLemonSlice(opts: ProviderFakeOptions): Promise<FakeLemonSlice> {
  const core = new ProviderCore('lemonslice', opts, (_status, message) => ({ error: message }));
  const images = new Map<string, { type: string; size: number }>();
  const upload = async (ctx: Ctx) => {
    const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': String(ctx.headers['content-type']) }, body: new Uint8Array(ctx.rawBody) })
      .formData()
      .catch(() => undefined);
    const payload = form?.get('payload');
    const image = form?.get('image');
    if (typeof payload !== 'string' || !(image instanceof Blob)) return void core.refuse(ctx, 422, 'multipart needs a payload field (JSON text) and an image file');
    if (!IMAGE_TYPES.has(image.type)) return void core.refuse(ctx, 422, `image must be PNG, JPEG or WebP, got ${image.type}`);
    const body = core.json({ ...ctx, headers: { ...ctx.headers, 'content-type': 'application/json' }, rawBody: Buffer.from(payload) }, uploadBody);
    return body ? { body, image: { type: image.type, size: image.size } } : undefined;
  };
  await core.start([
    {
      method: 'POST',
      path: /^\/api\/liveai\/sessions$/,
      endpoint: 'sessions',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'X-API-Key')) return;
        const multipart = String(ctx.headers['content-type'] ?? '').startsWith('multipart/form-data');
        const uploaded = multipart ? await upload(ctx) : undefined;
        const body = multipart ? uploaded?.body : core.json(ctx, sessionBody);
        if (!body) return;
        if (!(await core.verifyToken(ctx, body.properties.livekit_token, body.properties.livekit_url))) return;
        const id = `ls_${randomUUID()}`;
        if (uploaded) images.set(id, uploaded.image);
        core.answer(ctx, 200, { session_id: id });
        core.joinLater(body.properties.livekit_url, body.properties.livekit_token, id);
      },
    },
  ]);
  return Object.assign(core, { images });
}

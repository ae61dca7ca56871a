/**
 * Fake Hedra realtime API (https://api.hedra.com), as documented before Hedra switched it off on
 * 2026-04-15: `POST /public/livekit/v1/session` (x-api-key), multipart/form-data with
 * `livekit_url`, `livekit_token` and `avatar_id` or an `avatar_image` JPEG file → 200, and the
 * avatar joins. The `disabled` option answers as a switched-off service would (503).
 *
 * The worker no longer calls Hedra (a Hedra profile is refused at load); this fake stays only so
 * the refusal test can show that nothing ever reaches it.
 */
import { randomUUID } from 'node:crypto';
import { ProviderCore, type Ctx, type ProviderFake, type ProviderFakeOptions } from './common.js';

export async function startFakeHedra(opts: ProviderFakeOptions & { disabled?: boolean }): Promise<ProviderFake> {
  const core = new ProviderCore('hedra', opts, (_status, message) => ({ error: message }));
  return core.start([
    {
      method: 'POST',
      path: /^\/public\/livekit\/v1\/session$/,
      endpoint: 'session',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'x-api-key')) return;
        if (opts.disabled) return core.answer(ctx, 503, { error: 'The realtime avatar service is disabled' });
        const form = await multipart(ctx);
        if (!form) return core.refuse(ctx, 415, `content-type must be multipart/form-data, got ${String(ctx.headers['content-type'])}`);
        const url = form.get('livekit_url');
        const token = form.get('livekit_token');
        const avatarId = form.get('avatar_id');
        const image = form.get('avatar_image');
        ctx.record.body = {
          livekit_url: url,
          livekit_token: typeof token === 'string' ? '[jwt]' : token,
          avatar_id: avatarId,
          avatar_image: image instanceof Blob ? { filename: (image as File).name, type: image.type, size: image.size } : image,
        };
        if (typeof url !== 'string' || typeof token !== 'string') return core.refuse(ctx, 422, 'livekit_url and livekit_token are required fields');
        if (!avatarId && !(image instanceof Blob)) return core.refuse(ctx, 422, 'avatar_id or avatar_image is required');
        if (image instanceof Blob) {
          const head = new Uint8Array(await image.slice(0, 3).arrayBuffer());
          if (image.type !== 'image/jpeg' || head[0] !== 0xff || head[1] !== 0xd8) return core.refuse(ctx, 422, 'avatar_image must be a JPEG');
        }
        if (!(await core.verifyToken(ctx, token, url))) return;
        const id = randomUUID();
        core.answer(ctx, 200, { id });
        core.joinLater(url, token, id);
      },
    },
  ]);
}

async function multipart(ctx: Ctx): Promise<FormData | undefined> {
  const type = String(ctx.headers['content-type'] ?? '');
  if (!type.startsWith('multipart/form-data')) return undefined;
  return new Request('http://fake/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(ctx.rawBody) }).formData().catch(() => undefined);
}

/**
 * Fake Simli API (https://api.simli.ai): `POST /compose/token` (x-simli-api-key) `{faceId:
 * "<face>/<emotion>", handleSilence?, maxSessionLength?, maxIdleTime?}` → `{session_token}`; `POST
 * /integrations/livekit/agents` `{session_token, livekit_token, livekit_url}` (no key header: the
 * session token authenticates) → `{session_id}`, and the avatar joins. Errors: `{ detail }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { header, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const tokenBody = z.strictObject({
  faceId: z.string().regex(/^[^/]+(\/[^/]+)?$/, { error: 'must be <faceId> or <faceId>/<emotionId>' }),
  handleSilence: z.boolean().optional(),
  maxSessionLength: z.number().int().positive().optional(),
  maxIdleTime: z.number().int().positive().optional(),
});
const joinBody = z.strictObject({ session_token: z.string().min(1), livekit_token: jwt, livekit_url: livekitUrl });

export async function startFakeSimli(opts: ProviderFakeOptions & { faces?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('simli', opts, (_status, message) => ({ detail: message }));
  const faces = new Set(opts.faces ?? ['face-1']);
  const tokens = new Set<string>();
  return core.start([
    {
      method: 'POST',
      path: /^\/compose\/token$/,
      endpoint: 'token',
      session: true,
      handle(ctx) {
        if (!core.checkKey(ctx, header('x-simli-api-key')(ctx), 'x-simli-api-key')) return;
        const body = core.json(ctx, tokenBody);
        if (!body) return;
        const face = body.faceId.split('/')[0]!;
        if (!faces.has(face)) return core.refuse(ctx, 404, `face ${face} not found`);
        const token = `simli-st-${randomUUID()}`;
        tokens.add(token);
        core.answer(ctx, 200, { session_token: token });
      },
    },
    sessionRoute(core, {
      path: /^\/integrations\/livekit\/agents$/,
      endpoint: 'livekit',
      // Authenticated by the session token in the body, not a header.
      key: () => opts.apiKey,
      keyWhere: 'session_token',
      body: joinBody,
      check: (b) => (tokens.has(b.session_token) ? undefined : [401, 'session_token unknown or used']),
      livekit: (b) => ({ url: b.livekit_url, token: b.livekit_token }),
      newId: () => randomUUID(),
      answer: (b, id) => {
        tokens.delete(b.session_token);
        return [200, { session_id: id }];
      },
    }),
  ]);
}

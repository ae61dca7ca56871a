/**
 * Fake Synthesia interactive-avatar API (https://developers.synthesia.io):
 * `POST /api/interactive-avatars/sessions` (`Authorization: <key>`, the raw key)
 * `{avatarIds: ["av_…", … ≤ 5], livekitUrl, livekitToken}` → 201 `{id}`, and the avatar joins.
 * Errors are RFC 9457 problems (application/problem+json) with a `code`: `unauthorized` 401,
 * `quota_exceeded` 402, `feature_not_in_plan` 403, `unknown_avatar` 404, `concurrency_limit` 429.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { header, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({
  avatarIds: z.array(z.string().regex(/^av_/, { error: 'avatar ids start with av_' })).min(1).max(5),
  livekitUrl: livekitUrl,
  livekitToken: jwt,
});
const CODES: Record<number, string> = { 400: 'validation_error', 401: 'unauthorized', 402: 'quota_exceeded', 403: 'feature_not_in_plan', 404: 'unknown_avatar', 422: 'validation_error', 429: 'concurrency_limit' };

export async function startFakeSynthesia(opts: ProviderFakeOptions & { avatars?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('synthesia', opts, (status, message) => ({
    type: `https://developers.synthesia.io/problems/${CODES[status] ?? 'internal_error'}`,
    title: CODES[status] ?? 'Internal error',
    status,
    detail: message,
    code: CODES[status] ?? 'internal_error',
    requestId: randomUUID(),
  }));
  const avatars = new Set(opts.avatars ?? ['av_stock_1']);
  return core.start([
    sessionRoute(core, {
      path: /^\/api\/interactive-avatars\/sessions$/,
      endpoint: 'sessions',
      key: header('authorization'),
      keyWhere: 'Authorization',
      body: sessionBody,
      check: (b) => {
        const unknown = b.avatarIds.find((a) => !avatars.has(a));
        return unknown ? [404, `avatar ${unknown} is not in your gallery`] : undefined;
      },
      livekit: (b) => ({ url: b.livekitUrl, token: b.livekitToken }),
      newId: () => randomUUID(),
      answer: (_b, id) => [201, { id }],
    }),
  ]);
}

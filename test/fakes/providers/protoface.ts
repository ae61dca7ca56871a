/**
 * Fake Protoface API (https://api.protoface.com): `POST /v1/sessions` (Bearer) `{avatar_id,
 * transport {type: "livekit", url, room_name, worker_token, worker_identity, audio_source:
 * "data_stream"}, max_duration_seconds?}` → `{id, status}`, and the avatar joins;
 * `POST /v1/sessions/{id}/end` ends it (the avatar leaves). Errors: `{ error: {code, message} }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { bearerOf, endRoute, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({
  avatar_id: z.string().min(1),
  transport: z.strictObject({
    type: z.literal('livekit'),
    url: livekitUrl,
    room_name: z.string().min(1),
    worker_token: jwt,
    worker_identity: z.string().min(1),
    audio_source: z.literal('data_stream'),
  }),
  max_duration_seconds: z.number().positive().optional(),
});

export async function startFakeProtoface(opts: ProviderFakeOptions & { avatars?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('protoface', opts, (status, message) => ({ error: { code: status === 401 ? 'unauthorized' : 'error', message } }));
  // Protoface's stock avatar (what LiveKit's plugins default to) is there for every account.
  const avatars = new Set(['av_stock_001', ...(opts.avatars ?? [])]);
  return core.start([
    sessionRoute(core, {
      path: /^\/v1\/sessions$/,
      endpoint: 'sessions',
      key: bearerOf,
      keyWhere: 'Authorization: Bearer',
      body: sessionBody,
      check: (b) => (avatars.has(b.avatar_id) ? undefined : [404, `avatar ${b.avatar_id} not found`]),
      livekit: (b) => ({ url: b.transport.url, token: b.transport.worker_token }),
      newId: () => `ps_${randomUUID()}`,
      answer: (_b, id) => [201, { id, status: 'starting' }],
    }),
    endRoute(core, { method: 'POST', path: /^\/v1\/sessions\/([^/]+)\/end$/, key: bearerOf, keyWhere: 'Authorization: Bearer', missing: 404 }),
  ]);
}

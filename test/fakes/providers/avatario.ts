/**
 * Fake Avatario API (https://avatario.ai/api/sdk): `POST /start-session` (x-api-key)
 * `{avatario_face_id, agent_id, livekit {url, token}, video_height?, video_width?,
 * custom_background_url? (null allowed)}` → `{session_id}`, and the avatar joins. No end call.
 * Errors: `{ error }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { header, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({
  avatario_face_id: z.string().min(1),
  agent_id: z.string().min(1),
  livekit: z.strictObject({ url: livekitUrl, token: jwt }),
  video_height: z.number().int().positive().optional(),
  video_width: z.number().int().positive().optional(),
  custom_background_url: z.url().nullable().optional(),
});

export async function startFakeAvatario(opts: ProviderFakeOptions & { faces?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('avatario', opts, (_status, message) => ({ error: message }));
  const faces = new Set(opts.faces ?? ['face-1']);
  return core.start([
    sessionRoute(core, {
      path: /^\/start-session$/,
      endpoint: 'start-session',
      key: header('x-api-key'),
      keyWhere: 'x-api-key',
      body: sessionBody,
      check: (b) => (faces.has(b.avatario_face_id) ? undefined : [404, `face ${b.avatario_face_id} not found`]),
      livekit: (b) => ({ url: b.livekit.url, token: b.livekit.token }),
      newId: () => randomUUID(),
      answer: (_b, id) => [200, { session_id: id }],
    }),
  ]);
}

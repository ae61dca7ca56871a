/**
 * Fake Keyframe Labs API (https://api.keyframelabs.com): `POST /v1/sessions/plugins/livekit`
 * (Bearer) `{room_name, livekit_url, livekit_token, source_participant_identity, persona_id |
 * persona_slug}` → `{reservation_id, avatar_participant_identity}`, and the avatar joins. No end
 * call. Errors: `{ detail }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { bearerOf, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z
  .strictObject({
    room_name: z.string().min(1),
    livekit_url: livekitUrl,
    livekit_token: jwt,
    source_participant_identity: z.string().min(1),
    persona_id: z.string().min(1).optional(),
    persona_slug: z.string().min(1).optional(),
  })
  .refine((b) => Boolean(b.persona_id) !== Boolean(b.persona_slug), { error: 'exactly one of persona_id or persona_slug' });

export async function startFakeKeyframe(opts: ProviderFakeOptions & { personas?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('keyframe', opts, (_status, message) => ({ detail: message }));
  const personas = new Set(opts.personas ?? ['persona-1', 'friendly-guide']);
  return core.start([
    sessionRoute(core, {
      path: /^\/v1\/sessions\/plugins\/livekit$/,
      endpoint: 'plugin-session',
      key: bearerOf,
      keyWhere: 'Authorization: Bearer',
      body: sessionBody,
      check: (b) => {
        const persona = (b.persona_id ?? b.persona_slug)!;
        return personas.has(persona) ? undefined : [404, `persona ${persona} not found`];
      },
      livekit: (b) => ({ url: b.livekit_url, token: b.livekit_token }),
      newId: () => `res_${randomUUID()}`,
      answer: (b, id) => {
        const identity = core.tokens.at(-1)?.identity ?? 'keyframe-avatar-agent';
        return [200, { reservation_id: id, avatar_participant_identity: identity, room_name: b.room_name }];
      },
    }),
  ]);
}

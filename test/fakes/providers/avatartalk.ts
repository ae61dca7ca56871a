/**
 * Fake AvatarTalk API (https://api.avatartalk.ai), as LiveKit's Python plugin calls it:
 * - `POST /livekit/create-session` (Bearer) `{livekit_url, avatar, emotion, room_name, room_token,
 *   listener_token, agent_identity}` → `{task_id}`; then two participants join: the avatar with
 *   `room_token` (it publishes the video) and the listener with `listener_token` (it hears the
 *   speech on lk.audio_stream and answers the playback RPCs).
 * - `DELETE /livekit/delete-session/{task_id}` → `{task_id, status: "deleted"}`: both leave; an
 *   unknown task is 404.
 * Errors: `{detail}` (a FastAPI-style body; the plugin only quotes it), validation 422. Not
 * verified against the real API: which fields it requires (the plugin always sends all seven, so
 * all are required here), its answer to an unknown avatar (404 here) and its error bodies.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { bearerOf, endRoute, jwt, livekitUrl, ProviderCore, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({
  livekit_url: livekitUrl,
  avatar: z.string().min(1),
  emotion: z.string().min(1),
  room_name: z.string().min(1),
  room_token: jwt,
  listener_token: jwt,
  agent_identity: z.string().min(1),
});

export async function startFakeAvatarTalk(opts: ProviderFakeOptions & { avatars?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('avatartalk', opts, (_status, message) => ({ detail: message }));
  // The avatar LiveKit's plugin defaults to is there for every account.
  const avatars = new Set(['japanese_man', ...(opts.avatars ?? [])]);
  return core.start([
    {
      method: 'POST',
      path: /^\/livekit\/create-session$/,
      endpoint: 'create-session',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, bearerOf(ctx), 'Authorization: Bearer')) return;
        const body = core.json(ctx, sessionBody);
        if (!body) return;
        if (!avatars.has(body.avatar)) return core.refuse(ctx, 404, `avatar ${body.avatar} not found`);
        // Both participants join with what they were handed: each token must be one the LiveKit server takes.
        if (!(await core.verifyToken(ctx, body.room_token, body.livekit_url))) return;
        if (!(await core.verifyToken(ctx, body.listener_token, body.livekit_url))) return;
        const id = `task_${randomUUID()}`;
        core.answer(ctx, 200, { task_id: id });
        core.joinLater(body.livekit_url, body.room_token, id, body.listener_token);
      },
    },
    endRoute(core, { method: 'DELETE', path: /^\/livekit\/delete-session\/([^/]+)$/, key: bearerOf, keyWhere: 'Authorization: Bearer', missing: 404, answer: (id) => ({ task_id: id, status: 'deleted' }) }),
  ]);
}

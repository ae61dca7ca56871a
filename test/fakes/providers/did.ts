/**
 * Fake D-ID API (https://api.d-id.com): `POST /v2/agents/{agentId}/sessions/join`
 * (`Authorization: Basic <key>`) `{transport {provider: "livekit", server_url, token, room_name},
 * audio_config? {sample_rate: 16000 | 24000 | 48000}}` → `{id}`, and the avatar joins. No end
 * call exists. Errors: `{ kind, description }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jwt, livekitUrl, ProviderCore, sessionRoute, type Ctx, type ProviderFake, type ProviderFakeOptions } from './common.js';

const joinBody = z.strictObject({
  transport: z.strictObject({ provider: z.literal('livekit'), server_url: livekitUrl, token: jwt, room_name: z.string().min(1) }),
  audio_config: z.strictObject({ sample_rate: z.union([z.literal(16000), z.literal(24000), z.literal(48000)]) }).optional(),
});
const basic = (ctx: Ctx) => /^Basic\s+(.+)$/i.exec(String(ctx.headers.authorization ?? '').trim())?.[1];

export async function startFakeDid(opts: ProviderFakeOptions & { agents?: string[] }): Promise<ProviderFake> {
  const core = new ProviderCore('did', opts, (status, message) => ({ kind: status === 401 ? 'AuthorizationError' : 'Error', description: message }));
  const agents = new Set(opts.agents ?? ['agt-1']);
  return core.start([
    sessionRoute(core, {
      path: /^\/v2\/agents\/([^/]+)\/sessions\/join$/,
      endpoint: 'join',
      key: basic,
      keyWhere: 'Authorization: Basic',
      body: joinBody,
      check: (_b, [agent]) => (agents.has(agent!) ? undefined : [404, `agent ${agent} not found`]),
      livekit: (b) => ({ url: b.transport.server_url, token: b.transport.token }),
      newId: () => `sess_${randomUUID()}`,
      answer: (_b, id) => [200, { id }],
    }),
  ]);
}

/**
 * Fake Runway API (https://api.dev.runwayml.com): `POST /v1/realtime_sessions` (Bearer secret and
 * `X-Runway-Version`) `{model: "gwm1_avatars", avatar {type: "custom", avatarId} |
 * {type: "runway-preset", presetId}, livekit {url, token, roomName?, agentIdentity?},
 * maxDuration?}` → `{id}`, and the avatar joins. The avatar leaves on a reliable `END_CALL` data
 * packet (tests deliver it with `endCall`). Errors: `{ error }`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { bearerOf, header, jwt, livekitUrl, ProviderCore, sessionRoute, type ProviderFake, type ProviderFakeOptions } from './common.js';

const sessionBody = z.strictObject({
  model: z.literal('gwm1_avatars'),
  avatar: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('custom'), avatarId: z.string().min(1) }),
    z.strictObject({ type: z.literal('runway-preset'), presetId: z.string().min(1) }),
  ]),
  livekit: z.strictObject({ url: livekitUrl, token: jwt, roomName: z.string().min(1).optional(), agentIdentity: z.string().min(1).optional() }),
  maxDuration: z.number().int().positive().optional(),
});

export interface FakeRunway extends ProviderFake {
  /** The avatar got `{"type": "END_CALL"}`: its session ends and it leaves. */
  endCall(sessionId: string): Promise<void>;
}

export async function startFakeRunway(opts: ProviderFakeOptions): Promise<FakeRunway> {
  const core = new ProviderCore('runway', opts, (_status, message) => ({ error: message }));
  await core.start([
    sessionRoute(core, {
      path: /^\/v1\/realtime_sessions$/,
      endpoint: 'realtime_sessions',
      key: bearerOf,
      keyWhere: 'Authorization: Bearer',
      checkHeaders: (ctx) => (/^\d{4}-\d{2}-\d{2}$/.test(header('x-runway-version')(ctx) ?? '') ? undefined : [400, 'X-Runway-Version header is required (e.g. 2024-11-06)']),
      body: sessionBody,
      livekit: (b) => ({ url: b.livekit.url, token: b.livekit.token }),
      newId: () => randomUUID(),
      answer: (_b, id) => [200, { id }],
    }),
  ]);
  return Object.assign(core, { endCall: async (id: string) => void (await core.endSession(id)) });
}

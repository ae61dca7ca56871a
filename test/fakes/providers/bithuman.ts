/**
 * Fake bitHuman API (https://api.bithuman.ai), the cloud avatar as bitHuman documents it for a
 * LiveKit room ("Cloud avatar in your room", "Runtime sessions", "Errors" in its public docs) and
 * as LiveKit's Python plugin calls it:
 * - `POST /v1/runtime-tokens/request` (`api-secret` header) `{livekit_url, livekit_token,
 *   room_name, mode: "gpu" | "cpu", model?, agent_id?, image?}` → 200 `{avatar_session_started:
 *   true, model, session_id, mode, agent_id, image, user_id}`, and the avatar joins. Without `mode`
 *   the endpoint only issues a runtime token (no avatar), as documented. `cpu` needs `agent_id`; a
 *   photo (`image` without `agent_id`) runs on `expression-1` only; an unknown agent is 404.
 * - `POST /v1/runtime-sessions/{session_id}/end` → 200 `{session_id, status: "ended", ended: true,
 *   slot_released: true}`; again, the same answer; unknown: 404.
 * Errors: `{error: {code, message, httpStatus}, status: "error", status_code}` with bitHuman's
 * codes (VALIDATION_ERROR 400, MISSING_AUTH / UNAUTHORIZED 401, INSUFFICIENT_BALANCE 402,
 * CONCURRENCY_LIMIT_REACHED 403 (or `code403`), NOT_FOUND 404, RATE_LIMITED 429,
 * NO_AVAILABLE_WORKERS 503).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { endRoute, header, jwt, livekitUrl, ProviderCore, type ProviderFake, type ProviderFakeOptions } from './common.js';

const MODELS = ['essence-1', 'essence-2', 'expression-1', 'expression-2'] as const;
const startBody = z.strictObject({
  livekit_url: livekitUrl.optional(),
  livekit_token: jwt.optional(),
  room_name: z.string().min(1).optional(),
  mode: z.enum(['gpu', 'cpu']).optional(),
  model: z.enum(MODELS).optional(),
  agent_id: z.string().min(1).optional(),
  /** A public http(s) URL, or the image as base64 (raw or a data: URI). */
  image: z.string().min(1).optional(),
});

const CODES: Record<number, string> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  402: 'INSUFFICIENT_BALANCE',
  403: 'CONCURRENCY_LIMIT_REACHED',
  404: 'NOT_FOUND',
  409: 'VALIDATION_ERROR',
  415: 'UNSUPPORTED_TYPE',
  429: 'RATE_LIMITED',
  500: 'INTERNAL_ERROR',
  503: 'NO_AVAILABLE_WORKERS',
};

export async function startFakeBithuman(opts: ProviderFakeOptions & { agents?: string[]; code403?: string }): Promise<ProviderFake> {
  const code = (status: number, message: string) =>
    status === 401 && /no key/.test(message) ? 'MISSING_AUTH' : status === 403 && opts.code403 ? opts.code403 : (CODES[status] ?? 'INTERNAL_ERROR');
  const core = new ProviderCore('bithuman', opts, (status, message) => ({ error: { code: code(status, message), message, httpStatus: status }, status: 'error', status_code: status }));
  // The `wise-pup` sample agent bitHuman's docs start with is there for every account.
  const agents = new Set(['A23WJF0199', ...(opts.agents ?? [])]);
  const key = header('api-secret');
  return core.start([
    {
      method: 'POST',
      path: /^\/v1\/runtime-tokens\/request$/,
      endpoint: 'request',
      session: true,
      async handle(ctx) {
        if (!core.checkKey(ctx, key(ctx), 'api-secret')) return;
        const body = core.json(ctx, startBody, 400);
        if (!body) return;
        // `mode` is what makes the call start an avatar; without it only a runtime token is issued.
        if (!body.mode) return core.answer(ctx, 200, { token: `rt_${randomUUID()}`, expires_in: 60 });
        if (!body.livekit_url || !body.livekit_token || !body.room_name) return core.refuse(ctx, 400, 'livekit_url, livekit_token and room_name are required to start an avatar');
        if (!body.agent_id && !body.image) return core.refuse(ctx, 400, 'agent_id is required unless image is sent');
        if (body.mode === 'cpu' && !body.agent_id) return core.refuse(ctx, 400, 'mode cpu requires agent_id');
        if (!body.agent_id && body.model && body.model !== 'expression-1') return core.refuse(ctx, 400, `a photo session (image without agent_id) runs on expression-1 only, not ${body.model}`);
        if (body.agent_id && !agents.has(body.agent_id)) return core.refuse(ctx, 404, `Agent not found for code: ${body.agent_id}`);
        if (!(await core.verifyToken(ctx, body.livekit_token, body.livekit_url))) return;
        const id = `cs_${randomUUID()}`;
        const model = body.model ?? (body.agent_id ? 'essence-2' : 'expression-1');
        core.answer(ctx, 200, { avatar_session_started: true, model, session_id: id, mode: body.mode, agent_id: body.agent_id ?? null, image: body.image ?? null, user_id: 'user_fake' });
        core.joinLater(body.livekit_url, body.livekit_token, id);
      },
    },
    endRoute(core, {
      method: 'POST',
      path: /^\/v1\/runtime-sessions\/([^/]+)\/end$/,
      key,
      keyWhere: 'api-secret',
      missing: 404,
      repeatable: true,
      answer: (id) => ({ session_id: id, status: 'ended', ended: true, slot_released: true }),
    }),
  ]);
}

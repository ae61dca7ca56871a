import { z } from 'zod';
import { PUBLISH_ON_BEHALF_ATTRIBUTE } from './protocol.js';

/**
 * `POST /launch {url, token}`: what a worker's `selfhosted` avatar sends the runner, the same body
 * LiveKit's provider plugins send their clouds (a LiveKit URL and a join token for the avatar).
 * Unknown fields are ignored, so launchers may send more without breaking older runners.
 */
export const launchRequestSchema = z.object({
  url: z.string({ error: 'url is required: the LiveKit server URL (ws:// or wss://)' }).regex(/^(wss?|https?):\/\/[^\s]{1,500}$/, {
    error: 'url must be a ws://, wss://, http:// or https:// URL of the LiveKit server',
  }),
  token: z
    .string({ error: 'token is required: a LiveKit join token for the avatar participant' })
    .max(8192, { error: 'token is too long for a LiveKit join token' })
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, { error: 'token must be a LiveKit join token (a JWT)' }),
});

export type LaunchRequest = z.infer<typeof launchRequestSchema>;

/** The claims of a LiveKit join token the runner reads (it cannot verify them: the server will). */
const claimsSchema = z.object({
  sub: z.string({ error: 'the token has no identity (sub)' }).min(1, { error: 'the token has no identity (sub)' }),
  video: z.object({ room: z.string().min(1).optional(), roomJoin: z.boolean().optional() }, { error: 'the token has no video grant' }),
  attributes: z.record(z.string(), z.string()).optional(),
});

export interface LaunchTarget {
  url: string;
  token: string;
  identity: string;
  room?: string;
  /** The agent this avatar speaks for (the token's lk.publish_on_behalf), when the token names it. */
  agentIdentity?: string;
}

export type ParsedLaunch = { ok: true; target: LaunchTarget } | { ok: false; reason: string };

/** Validates a launch body and reads who the token makes the avatar. Never echoes the token. */
export function parseLaunchRequest(body: unknown): ParsedLaunch {
  const parsed = launchRequestSchema.safeParse(body ?? {});
  if (!parsed.success) return { ok: false, reason: parsed.error.issues[0]!.message };
  const { url, token } = parsed.data;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'token must be a LiveKit join token (its payload is not JSON)' };
  }
  const claims = claimsSchema.safeParse(json);
  if (!claims.success) return { ok: false, reason: claims.error.issues[0]!.message };
  if (claims.data.video.roomJoin === false) return { ok: false, reason: 'the token does not grant roomJoin' };
  const agentIdentity = claims.data.attributes?.[PUBLISH_ON_BEHALF_ATTRIBUTE];
  return {
    ok: true,
    target: {
      url,
      token,
      identity: claims.data.sub,
      ...(claims.data.video.room ? { room: claims.data.video.room } : {}),
      ...(agentIdentity ? { agentIdentity } : {}),
    },
  };
}

import { AccessToken } from 'livekit-server-sdk';
import type { LiveKitAccess } from '../contract.js';

/** RoomIO treats tracks of a participant carrying this attribute as the named agent's own. */
export const PUBLISH_ON_BEHALF = 'lk.publish_on_behalf';

/**
 * livekit-server-sdk's default (6 h), which LiveKit's avatar plugins use: a provider may queue a
 * session behind a cold start, and may rejoin with the same token after a network drop mid-call;
 * a token that expired by then would cost the call its avatar. It grants this one room only.
 */
export const AVATAR_TOKEN_TTL_S = 6 * 60 * 60;

/** Grants a provider's official plugin adds to the common ones (LiveAvatar: metadata and metrics). */
export interface AvatarGrants {
  canUpdateOwnMetadata?: boolean;
  canSubscribeMetrics?: boolean;
}

export interface AvatarTokenOptions {
  livekit: Pick<LiveKitAccess, 'apiKey' | 'apiSecret'>;
  room: string;
  /** The avatar participant's identity, e.g. `tavus-avatar-agent`. */
  identity: string;
  name?: string;
  /** The agent whose voice the avatar renders; its front end shows the avatar's tracks as the agent's. */
  agentIdentity: string;
  ttlSeconds?: number;
  grants?: AvatarGrants;
}

/** The token the provider's avatar joins with: an agent participant of this room only, publishing on the agent's behalf. */
export async function mintAvatarToken(opts: AvatarTokenOptions): Promise<string> {
  const token = new AccessToken(opts.livekit.apiKey, opts.livekit.apiSecret, {
    identity: opts.identity,
    name: opts.name ?? opts.identity,
    ttl: opts.ttlSeconds ?? AVATAR_TOKEN_TTL_S,
    attributes: { [PUBLISH_ON_BEHALF]: opts.agentIdentity },
  });
  token.kind = 'agent';
  token.addGrant({ roomJoin: true, room: opts.room, canPublish: true, canSubscribe: true, canPublishData: true, ...opts.grants });
  return token.toJwt();
}

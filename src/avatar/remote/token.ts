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
  return roomToken(opts.livekit, opts.room, opts.identity, opts.name, opts.ttlSeconds, opts.grants, { kind: 'agent', attributes: { [PUBLISH_ON_BEHALF]: opts.agentIdentity } });
}

/**
 * A plain (standard) participant's token for this room, with no attributes: the second participant
 * a provider joins besides its avatar (AvatarTalk's `listener`, which hears the speech), as that
 * provider's official plugin mints it.
 */
export async function mintListenerToken(opts: Pick<AvatarTokenOptions, 'livekit' | 'room' | 'identity' | 'name' | 'ttlSeconds'>): Promise<string> {
  return roomToken(opts.livekit, opts.room, opts.identity, opts.name, opts.ttlSeconds);
}

async function roomToken(
  livekit: AvatarTokenOptions['livekit'],
  room: string,
  identity: string,
  name: string | undefined,
  ttlSeconds: number | undefined,
  grants: AvatarGrants = {},
  as?: { kind: 'agent'; attributes: Record<string, string> },
): Promise<string> {
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret, {
    identity,
    name: name ?? identity,
    ttl: ttlSeconds ?? AVATAR_TOKEN_TTL_S,
    ...(as ? { attributes: as.attributes } : {}),
  });
  if (as) token.kind = as.kind;
  token.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, ...grants });
  return token.toJwt();
}

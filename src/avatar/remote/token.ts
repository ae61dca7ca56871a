import { AccessToken } from 'livekit-server-sdk';
import type { LiveKitAccess } from '../contract.js';

/** RoomIO treats tracks of a participant carrying this attribute as the named agent's own. */
export const PUBLISH_ON_BEHALF = 'lk.publish_on_behalf';

/**
 * Long enough for a provider to start a session and join (the join is what the token is for;
 * LiveKit refreshes a connected participant's token itself), short enough that a leaked one is
 * soon useless.
 */
export const AVATAR_TOKEN_TTL_S = 10 * 60;

export interface AvatarTokenOptions {
  livekit: Pick<LiveKitAccess, 'apiKey' | 'apiSecret'>;
  room: string;
  /** The avatar participant's identity, e.g. `tavus-avatar-agent`. */
  identity: string;
  name?: string;
  /** The agent whose voice the avatar renders; its front end shows the avatar's tracks as the agent's. */
  agentIdentity: string;
  ttlSeconds?: number;
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
  token.addGrant({ roomJoin: true, room: opts.room, canPublish: true, canSubscribe: true, canPublishData: true });
  return token.toJwt();
}

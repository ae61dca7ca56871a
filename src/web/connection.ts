import { randomBytes } from 'node:crypto';
import { AccessToken, RoomAgentDispatch, RoomConfiguration, TrackSource, type VideoGrant } from 'livekit-server-sdk';
import type { ConnectionDetails } from './api.js';
import type { ConnectionRequest } from './connection-request.js';
import type { WebConfig } from './config.js';

/**
 * Mints a join token for one conversation. The grants are the least a caller needs to talk to the
 * avatar: join this one room, publish a microphone (no camera, no screen share), subscribe, send
 * data (chat, RPC). The agent is dispatched by the token itself (RoomAgentDispatch), so it is in
 * the room when the first participant arrives, without a separate API call.
 */
export async function mintConnection(config: WebConfig, request: ConnectionRequest): Promise<ConnectionDetails> {
  const roomName = request.roomName ?? `avatar-${randomId()}`;
  // Always unique: in a named room, a caller must not be able to take over someone's seat
  // (LiveKit disconnects the older of two participants with one identity).
  const identity = `${request.identityPrefix ?? 'user'}-${randomId()}`;
  const participantName = request.participantName ?? 'Guest';

  const token = new AccessToken(config.livekit.apiKey, config.livekit.apiSecret, {
    identity,
    name: participantName,
    ttl: config.tokenTtlSeconds,
  });
  token.addGrant(userGrant(roomName));
  if (config.livekit.agentName) {
    token.roomConfig = new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName: config.livekit.agentName })] });
  }
  return {
    serverUrl: config.livekit.publicUrl,
    roomName,
    participantToken: await token.toJwt(),
    participantName,
  };
}

export function userGrant(room: string): VideoGrant {
  return {
    room,
    roomJoin: true,
    canPublish: true,
    canPublishSources: [TrackSource.MICROPHONE],
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: false,
  };
}

/** 72 random bits in the URL-safe alphabet, which fits the room and identity charsets. */
function randomId(): string {
  return randomBytes(9).toString('base64url');
}

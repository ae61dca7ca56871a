/**
 * Pixel Streaming signalling messages (Epic's PixelStreamingInfrastructure, protocol 1.x:
 * Common/protobuf/signalling_messages.proto), as JSON text frames with a `type`. Only what a
 * player sends and receives is modelled; everything from the server is validated here, at the edge.
 */
import { z } from 'zod';

/** The protocol version this player speaks (the server announces its own in `config`). */
export const PLAYER_PROTOCOL_VERSION = '1.0.0';

const iceServerSchema = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

export const iceCandidateDataSchema = z.object({
  candidate: z.string(),
  sdpMid: z.string().nullish(),
  sdpMLineIndex: z.number().int().nullish(),
  usernameFragment: z.string().nullish(),
});

/** Messages a player receives. Unknown types are ignored by the client, as Epic's frontend does. */
export const toPlayerMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('config'),
    // Passed to RTCPeerConnection as is by Epic's frontend; we take the ICE servers from it.
    peerConnectionOptions: z.object({ iceServers: z.array(iceServerSchema).optional() }).loose().nullish(),
    protocolVersion: z.string().optional(),
  }),
  z.object({ type: z.literal('streamerList'), ids: z.array(z.string()) }),
  z.object({ type: z.literal('subscribeFailed'), message: z.string().optional() }),
  z.object({ type: z.literal('offer'), sdp: z.string(), playerId: z.string().optional(), sfu: z.boolean().optional(), multiplex: z.boolean().optional() }),
  z.object({ type: z.literal('answer'), sdp: z.string() }),
  z.object({ type: z.literal('iceCandidate'), candidate: iceCandidateDataSchema }),
  z.object({ type: z.literal('ping'), time: z.number() }),
  z.object({ type: z.literal('pong'), time: z.number() }),
  z.object({ type: z.literal('playerCount'), count: z.number() }),
  z.object({ type: z.literal('streamerDisconnected') }),
  z.object({ type: z.literal('streamerIdChanged'), newID: z.string() }),
  z.object({ type: z.literal('peerDataChannels') }).loose(),
]);

export type ToPlayerMessage = z.infer<typeof toPlayerMessageSchema>;
export type IceCandidateData = z.infer<typeof iceCandidateDataSchema>;

/** Messages a player sends (the server adds our playerId when it forwards them to the streamer). */
export type FromPlayerMessage =
  | { type: 'listStreamers' }
  | { type: 'subscribe'; streamerId: string }
  | { type: 'unsubscribe' }
  | { type: 'answer'; sdp: string; minBitrateBps?: number; maxBitrateBps?: number }
  | { type: 'iceCandidate'; candidate: IceCandidateData }
  | { type: 'ping'; time: number }
  | { type: 'pong'; time: number };

/**
 * Parses one text frame. Returns undefined for a message type a player does not handle (the
 * protocol grows; unknown messages must not break the connection); throws for a known type
 * whose fields are wrong.
 */
export function parseToPlayerMessage(text: string): ToPlayerMessage | undefined {
  const json: unknown = JSON.parse(text);
  const type = (json as { type?: unknown } | null)?.type;
  const known = toPlayerMessageSchema.options.some((o) => o.shape.type.value === type);
  if (!known) return undefined;
  return toPlayerMessageSchema.parse(json);
}

/**
 * Access tokens: where clients put them, how they are verified (livekit-server-sdk's TokenVerifier,
 * so a token the real server refuses is refused here too) and what the server reads from them.
 * Claims come from the network, so they go through zod before anything trusts their shape.
 */
import type { IncomingMessage } from 'node:http';
import { ParticipantInfo_Kind, ParticipantPermission, RoomConfiguration, TrackSource } from '@livekit/protocol';
import { TokenVerifier } from 'livekit-server-sdk';
import { z } from 'zod';

export class AuthError extends Error {
  constructor(
    message: string,
    /** HTTP status the real server answers with: 401 for a bad token, 403 for missing grants. */
    readonly status: 401 | 403 = 401,
  ) {
    super(message);
  }
}

const videoGrantSchema = z.object({
  room: z.string().optional(),
  roomJoin: z.boolean().optional(),
  roomCreate: z.boolean().optional(),
  roomList: z.boolean().optional(),
  roomAdmin: z.boolean().optional(),
  roomRecord: z.boolean().optional(),
  canPublish: z.boolean().optional(),
  canSubscribe: z.boolean().optional(),
  canPublishData: z.boolean().optional(),
  canPublishSources: z.array(z.string()).optional(),
  canUpdateOwnMetadata: z.boolean().optional(),
  hidden: z.boolean().optional(),
  recorder: z.boolean().optional(),
  agent: z.boolean().optional(),
});

const claimsSchema = z.object({
  sub: z.string().optional(),
  name: z.string().optional(),
  metadata: z.string().optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  kind: z.string().optional(),
  video: videoGrantSchema.optional(),
  // Parsed separately with the protobuf JSON reader: a RoomConfiguration in its JSON form.
  roomConfig: z.unknown().optional(),
});

export type VideoGrant = z.infer<typeof videoGrantSchema>;

export interface VerifiedClaims {
  identity: string;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  kind: ParticipantInfo_Kind;
  video: VideoGrant;
  roomConfig?: RoomConfiguration;
}

/** Token from `?access_token=` (livekit-client) or `Authorization: Bearer` (rtc-node, server SDKs). */
export function tokenFromRequest(req: IncomingMessage, url: URL): string | undefined {
  const fromQuery = url.searchParams.get('access_token');
  if (fromQuery) return fromQuery;
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return match?.[1];
}

const KINDS: Record<string, ParticipantInfo_Kind> = {
  standard: ParticipantInfo_Kind.STANDARD,
  ingress: ParticipantInfo_Kind.INGRESS,
  egress: ParticipantInfo_Kind.EGRESS,
  sip: ParticipantInfo_Kind.SIP,
  agent: ParticipantInfo_Kind.AGENT,
  connector: ParticipantInfo_Kind.CONNECTOR,
  bridge: ParticipantInfo_Kind.BRIDGE,
};

const SOURCES: Record<string, TrackSource> = {
  camera: TrackSource.CAMERA,
  microphone: TrackSource.MICROPHONE,
  screen_share: TrackSource.SCREEN_SHARE,
  screen_share_audio: TrackSource.SCREEN_SHARE_AUDIO,
};

export class Authenticator {
  private readonly verifier: TokenVerifier;

  constructor(
    readonly apiKey: string,
    readonly apiSecret: string,
  ) {
    this.verifier = new TokenVerifier(apiKey, apiSecret);
  }

  /** Throws AuthError (401) for a missing, forged, expired or malformed token. */
  async verify(token: string | undefined): Promise<VerifiedClaims> {
    if (!token) throw new AuthError('no authorization token');
    let payload: unknown;
    try {
      payload = await this.verifier.verify(token);
    } catch (error) {
      throw new AuthError(`invalid token: ${error instanceof Error ? error.message : String(error)}`);
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw new AuthError(`invalid token claims: ${parsed.error.message}`);
    const claims = parsed.data;
    let roomConfig: RoomConfiguration | undefined;
    if (claims.roomConfig !== undefined) {
      try {
        roomConfig = RoomConfiguration.fromJson(claims.roomConfig as never, { ignoreUnknownFields: true });
      } catch (error) {
        throw new AuthError(`invalid roomConfig claim: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return {
      identity: claims.sub ?? '',
      name: claims.name ?? '',
      metadata: claims.metadata ?? '',
      attributes: claims.attributes ?? {},
      kind: KINDS[claims.kind ?? 'standard'] ?? ParticipantInfo_Kind.STANDARD,
      video: claims.video ?? {},
      ...(roomConfig ? { roomConfig } : {}),
    };
  }
}

/** The permission a participant gets from its grant; unset publish/subscribe/data mean allowed. */
export function permissionFromGrant(video: VideoGrant): ParticipantPermission {
  return new ParticipantPermission({
    canPublish: video.canPublish ?? true,
    canSubscribe: video.canSubscribe ?? true,
    canPublishData: video.canPublishData ?? true,
    canPublishSources: (video.canPublishSources ?? []).flatMap((name) => {
      const source = SOURCES[name];
      return source === undefined ? [] : [source];
    }),
    hidden: video.hidden ?? false,
    recorder: video.recorder ?? false,
    canUpdateMetadata: video.canUpdateOwnMetadata ?? false,
    agent: video.agent ?? false,
  });
}

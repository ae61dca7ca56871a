/**
 * Twirp services at `/twirp/livekit.<Service>/<Method>`: RoomService and AgentDispatchService, in
 * JSON (what livekit-server-sdk sends) or protobuf (`application/protobuf`, what the Go and Python
 * SDKs send). Permissions follow the Go server: roomCreate for CreateRoom/DeleteRoom, roomList for
 * ListRooms, roomAdmin on the room for everything about participants and dispatches. Errors use
 * Twirp's JSON error body (`{code, msg}`), which livekit-server-sdk turns into a TwirpError.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CreateAgentDispatchRequest,
  CreateRoomRequest,
  DataPacket,
  DataPacket_Kind,
  DeleteAgentDispatchRequest,
  DeleteRoomRequest,
  DeleteRoomResponse,
  DisconnectReason,
  ListAgentDispatchRequest,
  ListAgentDispatchResponse,
  ListParticipantsRequest,
  ListParticipantsResponse,
  ListRoomsRequest,
  ListRoomsResponse,
  MuteRoomTrackRequest,
  MuteRoomTrackResponse,
  MuteTrackRequest,
  RemoveParticipantResponse,
  RoomParticipantIdentity,
  RoomUpdate,
  SendDataRequest,
  SendDataResponse,
  UpdateParticipantRequest,
  UpdateRoomMetadataRequest,
  UserPacket,
} from '@livekit/protocol';
import type { AgentDispatcher } from './agents.js';
import { AuthError, tokenFromRequest, type Authenticator, type VerifiedClaims } from './auth.js';
import { LOSSY_LABEL, RELIABLE_LABEL } from './data.js';
import { errorText, type ServerLog } from './log.js';
import type { RoomRegistry } from './rooms.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface TwirpContext {
  auth: Authenticator;
  rooms: RoomRegistry;
  agents: AgentDispatcher;
  log: ServerLog;
}

/** A Twirp error: `code` is Twirp's, the HTTP status follows from it. */
export class TwirpError extends Error {
  constructor(
    readonly code: 'not_found' | 'unauthenticated' | 'permission_denied' | 'invalid_argument' | 'malformed' | 'bad_route' | 'internal',
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return { not_found: 404, bad_route: 404, unauthenticated: 401, permission_denied: 403, invalid_argument: 400, malformed: 400, internal: 500 }[this.code];
  }
}

/** The parts of a protobuf-es message type the dispatcher needs. */
interface ProtoType<T> {
  fromJson(json: never, options?: { ignoreUnknownFields?: boolean }): T;
  fromBinary(bytes: Uint8Array): T;
}
interface ProtoMessage {
  toJson(): unknown;
  toBinary(): Uint8Array;
}

interface Method<T> {
  request: ProtoType<T>;
  /** Throws TwirpError when `claims` may not call it with `request`. */
  authorize(claims: VerifiedClaims, request: NoInfer<T>): void;
  run(request: NoInfer<T>): ProtoMessage;
}

const needCreate = (claims: VerifiedClaims) => {
  if (!claims.video.roomCreate) throw new TwirpError('permission_denied', 'requires roomCreate');
};
const needList = (claims: VerifiedClaims) => {
  if (!claims.video.roomList) throw new TwirpError('permission_denied', 'requires roomList');
};
const needAdmin = (claims: VerifiedClaims, request: { room: string }) => {
  if (!claims.video.roomAdmin || claims.video.room !== request.room) throw new TwirpError('permission_denied', `requires roomAdmin for room "${request.room}"`);
};

function method<T>(m: Method<T>): Method<unknown> {
  return m as Method<unknown>;
}

function buildMethods(ctx: TwirpContext): Record<string, Method<unknown>> {
  const { rooms, agents } = ctx;
  const roomOf = (name: string) => {
    const room = rooms.get(name);
    if (!room) throw new TwirpError('not_found', 'requested room does not exist');
    return room;
  };
  const participantOf = (roomName: string, identity: string) => {
    const participant = roomOf(roomName).participants.get(identity);
    if (!participant) throw new TwirpError('not_found', 'participant does not exist');
    return participant;
  };
  return {
    'livekit.RoomService/CreateRoom': method({
      request: CreateRoomRequest,
      authorize: needCreate,
      run: (req) => {
        if (!req.name) throw new TwirpError('invalid_argument', 'no room name');
        return rooms.getOrCreate(req.name, {
          emptyTimeoutS: req.emptyTimeout,
          departureTimeoutS: req.departureTimeout,
          maxParticipants: req.maxParticipants,
          metadata: req.metadata,
          agents: req.agents,
        }).room.info();
      },
    }),
    'livekit.RoomService/ListRooms': method({
      request: ListRoomsRequest,
      authorize: needList,
      run: (req) =>
        new ListRoomsResponse({ rooms: rooms.all().filter((room) => req.names.length === 0 || req.names.includes(room.name)).map((room) => room.info()) }),
    }),
    'livekit.RoomService/DeleteRoom': method({
      request: DeleteRoomRequest,
      authorize: needCreate,
      run: (req) => {
        if (!rooms.close(req.room, DisconnectReason.ROOM_DELETED)) throw new TwirpError('not_found', 'requested room does not exist');
        return new DeleteRoomResponse();
      },
    }),
    'livekit.RoomService/UpdateRoomMetadata': method({
      request: UpdateRoomMetadataRequest,
      authorize: needAdmin,
      run: (req) => {
        const room = roomOf(req.room);
        room.metadata = req.metadata;
        for (const participant of room.participants.values()) participant.send({ case: 'roomUpdate', value: new RoomUpdate({ room: room.info() }) });
        return room.info();
      },
    }),
    'livekit.RoomService/ListParticipants': method({
      request: ListParticipantsRequest,
      authorize: needAdmin,
      run: (req) => new ListParticipantsResponse({ participants: [...roomOf(req.room).participants.values()].map((p) => p.info()) }),
    }),
    'livekit.RoomService/GetParticipant': method({
      request: RoomParticipantIdentity,
      authorize: needAdmin,
      run: (req) => participantOf(req.room, req.identity).info(),
    }),
    'livekit.RoomService/RemoveParticipant': method({
      request: RoomParticipantIdentity,
      authorize: needAdmin,
      run: (req) => {
        const participant = participantOf(req.room, req.identity);
        roomOf(req.room).kick(participant, DisconnectReason.PARTICIPANT_REMOVED);
        return new RemoveParticipantResponse();
      },
    }),
    'livekit.RoomService/UpdateParticipant': method({
      request: UpdateParticipantRequest,
      authorize: needAdmin,
      run: (req) => {
        const participant = participantOf(req.room, req.identity);
        if (req.permission) {
          participant.permission = req.permission;
          roomOf(req.room).onChanged(participant, { skipSelf: false });
        }
        participant.applyMetadata({ name: req.name, metadata: req.metadata, attributes: req.attributes });
        return participant.info();
      },
    }),
    'livekit.RoomService/MutePublishedTrack': method({
      request: MuteRoomTrackRequest,
      authorize: needAdmin,
      run: (req) => {
        const participant = participantOf(req.room, req.identity);
        const track = participant.tracks.get(req.trackSid);
        if (!track) throw new TwirpError('not_found', 'track is not found');
        // Tell the publisher (it mutes its sender) and everyone else (ParticipantUpdate).
        participant.send({ case: 'mute', value: new MuteTrackRequest({ sid: req.trackSid, muted: req.muted }) });
        track.info.muted = req.muted;
        roomOf(req.room).onChanged(participant, { skipSelf: true });
        return new MuteRoomTrackResponse({ track: track.info.clone() });
      },
    }),
    'livekit.RoomService/SendData': method({
      request: SendDataRequest,
      authorize: needAdmin,
      run: (req) => {
        const room = roomOf(req.room);
        const packet = new DataPacket({
          kind: req.kind,
          destinationIdentities: req.destinationIdentities,
          value: { case: 'user', value: new UserPacket({ payload: req.data, topic: req.topic, destinationIdentities: req.destinationIdentities, destinationSids: req.destinationSids, nonce: req.nonce }) },
        });
        room.deliverFromServer(packet, req.kind === DataPacket_Kind.LOSSY ? LOSSY_LABEL : RELIABLE_LABEL);
        return new SendDataResponse();
      },
    }),
    'livekit.AgentDispatchService/CreateDispatch': method({
      request: CreateAgentDispatchRequest,
      authorize: needAdmin,
      run: (req) => {
        if (!req.room) throw new TwirpError('invalid_argument', 'no room name');
        return agents.createDispatch(req);
      },
    }),
    'livekit.AgentDispatchService/ListDispatch': method({
      request: ListAgentDispatchRequest,
      authorize: needAdmin,
      run: (req) => new ListAgentDispatchResponse({ agentDispatches: agents.listDispatches(req.room, req.dispatchId) }),
    }),
    'livekit.AgentDispatchService/DeleteDispatch': method({
      request: DeleteAgentDispatchRequest,
      authorize: needAdmin,
      run: (req) => {
        const deleted = agents.deleteDispatch(req.room, req.dispatchId);
        if (!deleted) throw new TwirpError('not_found', 'dispatch does not exist');
        return deleted;
      },
    }),
  };
}

export type TwirpHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;

export function createTwirpHandler(ctx: TwirpContext): TwirpHandler {
  const methods = buildMethods(ctx);
  return (req, res, path) => handleTwirp(ctx, methods, req, res, path);
}

async function handleTwirp(ctx: TwirpContext, methods: Record<string, Method<unknown>>, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const name = path.slice('/twirp/'.length);
  const binary = (req.headers['content-type'] ?? '').startsWith('application/protobuf');
  try {
    const m = methods[name];
    if (req.method !== 'POST' || !m) throw new TwirpError('bad_route', `no handler for ${req.method} ${path}`);
    let claims: VerifiedClaims;
    try {
      claims = await ctx.auth.verify(tokenFromRequest(req, new URL(req.url ?? '/', 'http://localhost')));
    } catch (error) {
      throw new TwirpError('unauthenticated', error instanceof AuthError ? error.message : errorText(error));
    }
    const body = await readBody(req);
    let request: unknown;
    try {
      request = binary ? m.request.fromBinary(body) : m.request.fromJson(JSON.parse(body.toString('utf8') || '{}') as never, { ignoreUnknownFields: true });
    } catch (error) {
      throw new TwirpError('malformed', `could not decode the request: ${errorText(error)}`);
    }
    m.authorize(claims, request);
    const response = m.run(request);
    ctx.log.debug(`twirp ${name} ok`);
    if (binary) {
      res.writeHead(200, { 'Content-Type': 'application/protobuf' });
      res.end(Buffer.from(response.toBinary()));
    } else {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(response.toJson()));
    }
  } catch (error) {
    const twirp = error instanceof TwirpError ? error : new TwirpError('internal', errorText(error));
    ctx.log.info(`twirp ${name}: ${twirp.code}: ${twirp.message}`);
    // Exactly "application/json": livekit-server-sdk only parses the error body for that value.
    res.writeHead(twirp.status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ code: twirp.code, msg: twirp.message }));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new TwirpError('malformed', `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

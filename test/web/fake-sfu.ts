import {
  DataPacket,
  DataPacket_Kind,
  DataStream_Chunk,
  DataStream_Header,
  DataStream_OperationType,
  DataStream_TextHeader,
  DataStream_Trailer,
  Encryption_Type,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  TrackInfo,
  TrackSource,
  TrackType,
  UserPacket,
} from '@livekit/protocol';
import { ConnectionState, LogLevel, Room, setLogLevel } from 'livekit-client';

// The room logs every state change at info; the tests say what matters.
setLogLevel(LogLevel.warn);

/**
 * Drives a real livekit-client Room the way a LiveKit server would, for component tests where a
 * server is impossible: the messages are the protocol's own (ParticipantInfo, DataPacket with
 * data-stream header/chunk/trailer), delivered where the signal and data channels deliver them
 * (the RTC engine's events). Everything above that (Room, participants, text-stream readers,
 * components-react's hooks) is the real code.
 *
 * Two steps have no public door and reach inside: the connection state (set by the join
 * handshake) and the engine's event names (livekit-client does not export EngineEvent).
 */
const ENGINE_PARTICIPANT_UPDATE = 'participantUpdate';
const ENGINE_DATA_PACKET = 'dataPacketReceived';

type Internals = { setAndEmitConnectionState(state: ConnectionState): boolean; engine: { emit(event: string, ...args: unknown[]): boolean } };
const internals = (room: Room) => room as unknown as Internals;

export class FakeSfu {
  readonly room: Room;
  private versions = new Map<string, number>();
  private streams = 0;

  constructor(readonly localIdentity = 'user-me') {
    this.room = new Room();
    // The join response sets this.
    this.room.localParticipant.identity = localIdentity;
  }

  setConnectionState(state: ConnectionState): void {
    internals(this.room).setAndEmitConnectionState(state);
  }

  /** The room as it is right after a join. */
  join(): this {
    this.setConnectionState(ConnectionState.Connected);
    return this;
  }

  /** A participant joins, or its state (attributes, tracks) changes. */
  participant(p: { identity: string; kind?: ParticipantInfo_Kind; attributes?: Record<string, string>; tracks?: TrackInfo[] }): void {
    const version = (this.versions.get(p.identity) ?? 0) + 1;
    this.versions.set(p.identity, version);
    const info = new ParticipantInfo({
      sid: `PA_${p.identity}`,
      identity: p.identity,
      state: ParticipantInfo_State.ACTIVE,
      kind: p.kind ?? ParticipantInfo_Kind.STANDARD,
      attributes: p.attributes ?? {},
      tracks: p.tracks ?? [],
      version,
      isPublisher: (p.tracks ?? []).length > 0,
    });
    internals(this.room).engine.emit(ENGINE_PARTICIPANT_UPDATE, [info]);
  }

  /** A participant leaves (the server's update with state DISCONNECTED). */
  leave(identity: string): void {
    const version = (this.versions.get(identity) ?? 0) + 1;
    this.versions.set(identity, version);
    const info = new ParticipantInfo({ sid: `PA_${identity}`, identity, state: ParticipantInfo_State.DISCONNECTED, version });
    internals(this.room).engine.emit(ENGINE_PARTICIPANT_UPDATE, [info]);
  }

  agent(identity: string, attributes: Record<string, string>, tracks: TrackInfo[] = []): void {
    this.participant({ identity, kind: ParticipantInfo_Kind.AGENT, attributes, tracks });
  }

  /** One text stream, as `room.localParticipant.streamText` sends it: header, chunk, trailer. */
  textStream(from: string, topic: string, text: string, attributes: Record<string, string> = {}, timestamp = Date.now()): void {
    const streamId = `ST_${++this.streams}`;
    const content = new TextEncoder().encode(text);
    const send = (value: DataPacket['value']) =>
      internals(this.room).engine.emit(ENGINE_DATA_PACKET, new DataPacket({ kind: DataPacket_Kind.RELIABLE, participantIdentity: from, value }), Encryption_Type.NONE);
    send({
      case: 'streamHeader',
      value: new DataStream_Header({
        streamId,
        topic,
        timestamp: BigInt(timestamp),
        mimeType: 'text/plain',
        totalLength: BigInt(content.byteLength),
        attributes,
        contentHeader: { case: 'textHeader', value: new DataStream_TextHeader({ operationType: DataStream_OperationType.CREATE }) },
      }),
    });
    send({ case: 'streamChunk', value: new DataStream_Chunk({ streamId, chunkIndex: 0n, content }) });
    send({ case: 'streamTrailer', value: new DataStream_Trailer({ streamId }) });
  }

  /** A data packet, as `room.localParticipant.publishData(payload, { topic, reliable: true })` sends it. */
  data(from: string, topic: string, payload: Uint8Array): void {
    const packet = new DataPacket({ kind: DataPacket_Kind.RELIABLE, participantIdentity: from, value: { case: 'user', value: new UserPacket({ participantIdentity: from, payload, topic }) } });
    internals(this.room).engine.emit(ENGINE_DATA_PACKET, packet, Encryption_Type.NONE);
  }
}

/** A published camera or microphone track, as a participant's info lists it. */
export function trackInfo(sid: string, source: 'camera' | 'microphone', name: string): TrackInfo {
  return new TrackInfo({
    sid,
    name,
    type: source === 'camera' ? TrackType.VIDEO : TrackType.AUDIO,
    source: source === 'camera' ? TrackSource.CAMERA : TrackSource.MICROPHONE,
    width: 512,
    height: 512,
  });
}

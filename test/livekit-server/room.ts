/**
 * Room state: who is in the room, what they publish, and the fan-out a LiveKit server does on
 * every change (ParticipantUpdate to the others, auto-subscription, data routing, leave). Rooms
 * are created on the first join (or by RoomService.CreateRoom) and closed when they stay empty,
 * with the Go server's two timeouts: `emptyTimeout` for a room nobody joined, `departureTimeout`
 * after the last participant left.
 */
import {
  DisconnectReason,
  JoinResponse,
  ParticipantInfo_State,
  Room as RoomInfo,
  RoomAgentDispatch,
  ServerInfo,
  ServerInfo_Edition,
  type DataPacket,
} from '@livekit/protocol';
import { recipientsOf } from './data.js';
import { newSid } from './ids.js';
import type { ServerLog } from './log.js';
import type { Participant, ParticipantSnapshot, PublishedTrack, RoomHooks } from './participant.js';

export const SERVER_VERSION = '1.9.0';
/** Signal protocol the server speaks; clients send theirs (rtc-node 0.13 sends 16). */
export const SERVER_PROTOCOL = 16;
export const PING_INTERVAL_S = 5;
export const PING_TIMEOUT_S = 15;

export function serverInfo(nodeId: string): ServerInfo {
  return new ServerInfo({ edition: ServerInfo_Edition.Standard, version: SERVER_VERSION, protocol: SERVER_PROTOCOL, nodeId, region: 'test' });
}

export interface RoomSettings {
  emptyTimeoutS: number;
  departureTimeoutS: number;
  maxParticipants: number;
  metadata: string;
  /** Explicit agent dispatches (token roomConfig or CreateRoom); none means the default one. */
  agents: RoomAgentDispatch[];
}

export interface RoomEvents {
  onParticipantJoined(room: Room, participant: Participant): void;
  onFirstPublish(room: Room, participant: Participant): void;
  onEmpty(room: Room): void;
}

export interface RoomSnapshot {
  sid: string;
  name: string;
  metadata: string;
  participants: ParticipantSnapshot[];
}

export class Room implements RoomHooks {
  readonly sid = newSid('RM_');
  readonly createdAtMs = Date.now();
  readonly participants = new Map<string, Participant>();
  metadata: string;
  private readonly hasPublished = new Set<string>();
  private emptyTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    readonly settings: RoomSettings,
    readonly log: ServerLog,
    private readonly nodeId: string,
    private readonly events: RoomEvents,
  ) {
    this.metadata = settings.metadata;
    this.armEmptyTimer(settings.emptyTimeoutS);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  info(): RoomInfo {
    const participants = [...this.participants.values()];
    return new RoomInfo({
      sid: this.sid,
      name: this.name,
      emptyTimeout: this.settings.emptyTimeoutS,
      departureTimeout: this.settings.departureTimeoutS,
      maxParticipants: this.settings.maxParticipants,
      creationTime: BigInt(Math.floor(this.createdAtMs / 1000)),
      creationTimeMs: BigInt(this.createdAtMs),
      metadata: this.metadata,
      numParticipants: participants.length,
      numPublishers: participants.filter((p) => p.tracks.size > 0).length,
    });
  }

  /** Admits `participant`: JoinResponse to it, ParticipantUpdate to the others. */
  join(participant: Participant): void {
    if (this.closed) throw new Error(`room ${this.name} is closed`);
    const max = this.settings.maxParticipants;
    if (max > 0 && !participant.isDependent && this.independentCount() >= max && !this.participants.has(participant.identity)) {
      throw new Error(`room ${this.name} is full (${max})`);
    }
    const previous = this.participants.get(participant.identity);
    if (previous) {
      this.log.info(`${this.name}: ${participant.identity} joined again, the older session leaves`);
      previous.sendLeave(DisconnectReason.DUPLICATE_IDENTITY);
      this.removeParticipant(previous, DisconnectReason.DUPLICATE_IDENTITY);
    }
    if (!participant.isDependent) {
      clearTimeout(this.emptyTimer);
      this.emptyTimer = undefined;
    }
    participant.state = ParticipantInfo_State.JOINED;
    participant.bumpVersion();
    const others = [...this.participants.values()].filter((p) => !p.hidden).map((p) => p.info());
    this.participants.set(participant.identity, participant);
    participant.send({
      case: 'join',
      value: new JoinResponse({
        room: this.info(),
        participant: participant.info(),
        otherParticipants: others,
        serverVersion: SERVER_VERSION,
        serverInfo: serverInfo(this.nodeId),
        serverRegion: 'test',
        // Data and the first connection go over the publisher connection; the server offers the
        // subscriber connection when there is something to subscribe to.
        subscriberPrimary: false,
        pingInterval: PING_INTERVAL_S,
        pingTimeout: PING_TIMEOUT_S,
      }),
    });
    this.log.info(`${this.name}: ${participant.identity} (${participant.sid}) joined`);
    this.broadcast(participant, { skipSelf: true });
    this.events.onParticipantJoined(this, participant);
  }

  // ---- RoomHooks: called by participants ----

  onActive(participant: Participant): void {
    if (!participant.autoSubscribe) return;
    for (const other of this.participants.values()) {
      if (other === participant) continue;
      for (const track of other.tracks.values()) participant.subscribe(track);
    }
  }

  onChanged(participant: Participant, opts: { skipSelf: boolean }): void {
    participant.bumpVersion();
    this.broadcast(participant, opts);
  }

  onTrackPublished(participant: Participant, track: PublishedTrack): void {
    participant.bumpVersion();
    // Others learn about the track before the offer that carries it, so they can map it.
    this.broadcast(participant, { skipSelf: true });
    for (const other of this.participants.values()) {
      if (other === participant || !other.autoSubscribe) continue;
      if (other.state !== ParticipantInfo_State.ACTIVE) continue; // subscribed once active
      other.subscribe(track);
    }
    if (!this.hasPublished.has(participant.identity)) {
      this.hasPublished.add(participant.identity);
      this.events.onFirstPublish(this, participant);
    }
  }

  onTrackUnpublished(participant: Participant, track: PublishedTrack): void {
    for (const other of this.participants.values()) other.unsubscribe(track.info.sid);
    participant.bumpVersion();
    this.broadcast(participant, { skipSelf: true });
  }

  onLeave(participant: Participant, reason: DisconnectReason): void {
    this.removeParticipant(participant, reason);
  }

  onData(sender: Participant, packet: DataPacket, label: string): void {
    const recipients = recipientsOf(packet, sender, this.participants.values());
    if (recipients.length === 0) {
      this.log.debug(`${this.name}: ${packet.value.case} from ${sender.identity} has no recipient (to ${packet.destinationIdentities.join(',') || 'all'})`);
      return;
    }
    const bytes = packet.toBinary();
    for (const recipient of recipients) {
      if (!recipient.deliverData(bytes, label)) {
        this.log.warn(`${this.name}: ${packet.value.case} for ${recipient.identity} dropped: its data channel is not open`);
      }
    }
  }

  /** A packet the server itself sends (RoomService.SendData): no sender identity. */
  deliverFromServer(packet: DataPacket, label: string): void {
    const bytes = packet.toBinary();
    const nobody = { identity: '', sid: '', hidden: true };
    for (const recipient of recipientsOf(packet, nobody, this.participants.values())) recipient.deliverData(bytes, label);
  }

  findTrack(trackSid: string): PublishedTrack | undefined {
    for (const participant of this.participants.values()) {
      const track = participant.tracks.get(trackSid);
      if (track) return track;
    }
    return undefined;
  }

  // ---- membership ----

  /** Removes and closes `participant`; the others see it DISCONNECTED and lose its tracks. */
  removeParticipant(participant: Participant, reason: DisconnectReason): void {
    if (this.participants.get(participant.identity) === participant) this.participants.delete(participant.identity);
    // A second call (the socket closing after a leave) only repeats idempotent cleanup.
    const wasClosed = participant.isClosed;
    participant.close(reason);
    for (const other of this.participants.values()) {
      for (const track of participant.tracks.values()) other.unsubscribe(track.info.sid);
    }
    if (!wasClosed) {
      participant.bumpVersion();
      this.broadcast(participant, { skipSelf: true });
      this.log.info(`${this.name}: ${participant.identity} left (${DisconnectReason[reason] ?? reason})`);
    }
    // Only agents (or nobody) left: the room closes after the departure timeout, taking them along.
    if (!participant.isDependent && this.independentCount() === 0) this.armEmptyTimer(this.settings.departureTimeoutS);
  }

  /** Server-side removal (RoomService.RemoveParticipant, room deletion, shutdown). */
  kick(participant: Participant, reason: DisconnectReason): void {
    participant.sendLeave(reason);
    this.removeParticipant(participant, reason);
  }

  close(reason: DisconnectReason): void {
    if (this.closed) return;
    clearTimeout(this.emptyTimer);
    for (const participant of [...this.participants.values()]) this.kick(participant, reason);
    this.closed = true;
    this.log.info(`${this.name}: closed (${DisconnectReason[reason] ?? reason})`);
  }

  snapshot(): RoomSnapshot {
    return {
      sid: this.sid,
      name: this.name,
      metadata: this.metadata,
      participants: [...this.participants.values()].map((p) => p.snapshot()),
    };
  }

  /** Sends `participant`'s current info to everyone (hidden participants only to themselves). */
  private broadcast(participant: Participant, opts: { skipSelf: boolean }): void {
    const info = participant.info();
    for (const other of this.participants.values()) {
      if (other === participant ? opts.skipSelf : participant.hidden) continue;
      other.sendUpdate([info]);
    }
  }

  private independentCount(): number {
    let count = 0;
    for (const participant of this.participants.values()) if (!participant.isDependent) count++;
    return count;
  }

  private armEmptyTimer(seconds: number): void {
    clearTimeout(this.emptyTimer);
    this.emptyTimer = setTimeout(() => {
      if (this.independentCount() === 0 && !this.closed) this.events.onEmpty(this);
    }, seconds * 1000);
    this.emptyTimer.unref();
  }
}

/**
 * The set of live rooms, by name, and the hooks other parts (agent dispatch) attach to their
 * lifecycle.
 */
import { DisconnectReason, RoomAgentDispatch } from '@livekit/protocol';
import type { ServerLog } from './log.js';
import type { Participant } from './participant.js';
import { Room, type RoomSettings } from './room.js';

export interface RoomLifecycle {
  onRoomCreated(room: Room): void;
  onParticipantJoined(room: Room, participant: Participant): void;
  onFirstPublish(room: Room, participant: Participant): void;
  onRoomClosed(room: Room): void;
}

export interface RoomDefaults {
  emptyTimeoutS: number;
  departureTimeoutS: number;
}

export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  private lifecycle: RoomLifecycle | undefined;

  constructor(
    private readonly defaults: RoomDefaults,
    private readonly log: ServerLog,
    private readonly nodeId: string,
  ) {}

  setLifecycle(lifecycle: RoomLifecycle): void {
    this.lifecycle = lifecycle;
  }

  get(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  all(): Room[] {
    return [...this.rooms.values()];
  }

  /** The room called `name`, created with `settings` when it does not exist yet. */
  getOrCreate(name: string, settings: Partial<RoomSettings> = {}): { room: Room; created: boolean } {
    const existing = this.rooms.get(name);
    if (existing && !existing.isClosed) return { room: existing, created: false };
    const room = new Room(
      name,
      {
        emptyTimeoutS: settings.emptyTimeoutS || this.defaults.emptyTimeoutS,
        departureTimeoutS: settings.departureTimeoutS || this.defaults.departureTimeoutS,
        maxParticipants: settings.maxParticipants ?? 0,
        metadata: settings.metadata ?? '',
        agents: (settings.agents ?? []).map((agent) => new RoomAgentDispatch(agent)),
      },
      this.log,
      this.nodeId,
      {
        onParticipantJoined: (r, p) => this.lifecycle?.onParticipantJoined(r, p),
        onFirstPublish: (r, p) => this.lifecycle?.onFirstPublish(r, p),
        onEmpty: (r) => this.close(r.name, DisconnectReason.ROOM_CLOSED),
      },
    );
    this.rooms.set(name, room);
    this.log.info(`room ${name} (${room.sid}) created`);
    this.lifecycle?.onRoomCreated(room);
    return { room, created: true };
  }

  /** Closes the room: everyone in it is sent away with `reason`. Returns false if unknown. */
  close(name: string, reason: DisconnectReason): boolean {
    const room = this.rooms.get(name);
    if (!room) return false;
    this.rooms.delete(name);
    room.close(reason);
    this.lifecycle?.onRoomClosed(room);
    return true;
  }

  closeAll(reason: DisconnectReason): void {
    for (const name of [...this.rooms.keys()]) this.close(name, reason);
  }
}

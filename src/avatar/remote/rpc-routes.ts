import type { LocalParticipant, Room, RpcInvocationData } from '@livekit/rtc-node';

/**
 * Per-room routing of the avatar → agent RPCs (`lk.playback_finished`, `lk.playback_started`) to
 * the output that talks to that avatar. agents-js keeps one process-wide table and registers the
 * RPC method only on the first Room it sees, so in a process hosting two jobs the second room's
 * avatar calls an unregistered method and its turns never end. Here every room's participant gets
 * its own registration and its own table, keyed by the avatar's identity.
 */

type Handler = (data: RpcInvocationData) => string;

const tables = new WeakMap<LocalParticipant, Map<string, Map<string, Handler>>>();

export function routeAvatarRpc(room: Room, method: string, callerIdentity: string, handler: Handler): () => void {
  const participant = room.localParticipant;
  if (!participant) throw new Error(`cannot register ${method}: the room is not connected`);
  let methods = tables.get(participant);
  if (!methods) {
    methods = new Map();
    tables.set(participant, methods);
  }
  let callers = methods.get(method);
  if (!callers) {
    const table = new Map<string, Handler>();
    callers = table;
    methods.set(method, table);
    participant.registerRpcMethod(method, async (data) => {
      const route = table.get(data.callerIdentity);
      // An unknown caller must not drive our playback state.
      return route ? route(data) : 'reject';
    });
  }
  callers.set(callerIdentity, handler);
  const table = callers;
  return () => {
    if (table.get(callerIdentity) === handler) table.delete(callerIdentity);
  };
}

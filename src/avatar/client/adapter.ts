import { ParticipantKind, RoomEvent, type RemoteParticipant, type Room, type RpcInvocationData } from '@livekit/rtc-node';
import type { z } from 'zod';
import type { AvatarAdapter, AvatarContext, AvatarHandle } from '../contract.js';
import { publishVoice } from '../none.js';
import type { clientProfileSchema } from './profile.js';
import {
  AVATAR_ATTRIBUTES,
  CLIENT_AVATAR_VERSION,
  RPC_CLIENT_FAILED,
  RPC_CLIENT_READY,
  clientFailedSchema,
  clientReadySchema,
  parseJson,
  type ClientAvatarSpec,
} from './protocol.js';

export type ClientProfile = z.infer<typeof clientProfileSchema> & { name: string };

/**
 * An avatar drawn in the viewer's browser. The worker publishes the voice only (no render, no
 * video encode) and describes the avatar in the agent's attributes (`avatar.client`, set by the
 * registry from `handle.attributes`). A page that can draw it answers `avatar.client.ready`; one
 * that tried and failed answers `avatar.client.failed`. No answer within `announceTimeoutMs` (an
 * rtc-node viewer, the agents playground, any other front end), a page that cannot draw this
 * renderer, or a failure: `lost` resolves with the reason, and the registry moves down the
 * profile's fallback chain (another client renderer, or server-rendered video), mid-call.
 *
 * Every viewer must be able to draw it, not just one: a room with our page and another front end
 * (a second user on the agents playground, LiveKit's starter app) would leave the second without a
 * face. So each viewer (a standard participant: not an agent, an avatar worker or a SIP caller,
 * who see no video) gets the window from when it is there, and one that stays silent or cannot
 * draw it sends the room down the chain, to server video that every front end can show.
 */
export function clientAdapter(profile: ClientProfile): AvatarAdapter {
  return {
    async attach(ctx: AvatarContext): Promise<AvatarHandle> {
      const room = ctx.room;
      if (!room?.localParticipant) throw new Error("the client avatar needs a room: the viewer's browser draws it");
      const spec: ClientAvatarSpec = {
        v: CLIENT_AVATAR_VERSION,
        profile: profile.name,
        renderer: profile.renderer,
        ...(profile.asset ? { asset: profile.asset } : {}),
        seed: profile.seed,
        style: profile.style,
      };
      let settle!: (reason: string) => void;
      const lost = new Promise<string>((resolve) => (settle = resolve));
      const drawing = new Set<string>();
      const waiting = new Map<string, NodeJS.Timeout>();
      const expectViewer = (p: RemoteParticipant) => {
        if (p.kind !== ParticipantKind.STANDARD || drawing.has(p.identity) || waiting.has(p.identity)) return;
        waiting.set(
          p.identity,
          setTimeout(() => {
            const who = drawing.size ? `viewer ${p.identity} did not say` : 'no viewer said';
            settle(`${who} it can draw a ${profile.renderer} client avatar within ${profile.announceTimeoutMs} ms (a front end without client avatars)`);
          }, profile.announceTimeoutMs),
        );
      };
      const stopWaiting = (identity: string) => {
        clearTimeout(waiting.get(identity));
        waiting.delete(identity);
      };
      const forget = (p: RemoteParticipant) => {
        stopWaiting(p.identity);
        drawing.delete(p.identity);
      };
      for (const p of room.remoteParticipants.values()) expectViewer(p);
      room.on(RoomEvent.ParticipantConnected, expectViewer);
      room.on(RoomEvent.ParticipantDisconnected, forget);
      const unregister = [
        answer(room, RPC_CLIENT_READY, (data) => {
          const ready = parseJson(data.payload, clientReadySchema);
          if (!ready) return 'malformed';
          if (ready.profile !== spec.profile) return 'stale';
          if (!ready.renderers.includes(spec.renderer)) {
            settle(`viewer ${data.callerIdentity} cannot draw ${spec.renderer} (it draws: ${ready.renderers.join(', ') || 'nothing'})`);
            return 'unsupported';
          }
          if (!drawing.has(data.callerIdentity)) ctx.logger.info({ avatar: spec.profile, renderer: spec.renderer, viewer: data.callerIdentity }, 'the viewer draws the avatar');
          stopWaiting(data.callerIdentity);
          drawing.add(data.callerIdentity);
          return 'ok';
        }),
        answer(room, RPC_CLIENT_FAILED, (data) => {
          const failed = parseJson(data.payload, clientFailedSchema);
          if (!failed) return 'malformed';
          if (failed.profile !== spec.profile) return 'stale';
          settle(`viewer ${data.callerIdentity}: the ${failed.renderer} renderer failed: ${failed.reason}`);
          return 'ok';
        }),
      ];
      const voiceTrack = await publishVoice(room, profile.sampleRate, { awaitSubscriber: false });
      ctx.session.output.audio = voiceTrack.output;
      return {
        profile,
        attributes: { [AVATAR_ATTRIBUTES.client]: JSON.stringify(spec) },
        lost,
        close: async () => {
          for (const t of waiting.values()) clearTimeout(t);
          waiting.clear();
          room.off(RoomEvent.ParticipantConnected, expectViewer);
          room.off(RoomEvent.ParticipantDisconnected, forget);
          for (const u of unregister) u();
          await voiceTrack.close();
        },
      };
    },
  };
}

/** Register an RPC method on the agent participant; returns its unregistration. */
function answer(room: Room, method: string, handler: (data: RpcInvocationData) => string): () => void {
  const participant = room.localParticipant!;
  participant.registerRpcMethod(method, async (data) => handler(data));
  return () => participant.unregisterRpcMethod(method);
}

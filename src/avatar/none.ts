import { voice } from '@livekit/agents';
import { TrackPublishOptions, TrackSource, type Room } from '@livekit/rtc-node';
import type { AvatarProfile } from '../config/avatar-profile.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle } from './contract.js';

/**
 * Voice only. At start the session's own room audio output speaks (RoomIO creates it when no
 * avatar set one). Mid-call, after an avatar was lost, the session's output still points at that
 * avatar, so voice only publishes a plain microphone track of its own and takes over.
 */
export function noneAdapter(profile: AvatarProfile): AvatarAdapter {
  return {
    async attach(ctx: AvatarContext): Promise<AvatarHandle> {
      if (!ctx.room || !ctx.session.output.audio) return { profile, close: async () => {} };
      const voiceTrack = await publishVoice(ctx.room, 24000);
      ctx.session.output.audio = voiceTrack.output;
      return { profile, close: () => voiceTrack.close() };
    },
  };
}

/**
 * The agent's voice as a plain microphone track of the agent participant; the caller sets
 * `output` as the session's audio output. `close` unpublishes it, so a front end that looks for
 * the agent's voice finds the next avatar's track, not a silent one. agents' output only starts
 * playing once someone subscribes; `awaitSubscriber: false` returns as soon as it is set up.
 */
export async function publishVoice(
  room: Room,
  sampleRate: number,
  opts: { awaitSubscriber?: boolean } = {},
): Promise<{ output: voice.ParticipantAudioOutput; close(): Promise<void> }> {
  const output = new voice.ParticipantAudioOutput(room, {
    sampleRate,
    numChannels: 1,
    trackPublishOptions: new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
  });
  const abort = new AbortController();
  const started = output.start(abort.signal);
  if (opts.awaitSubscriber ?? true) await started;
  else started.catch(() => undefined);
  return {
    output,
    close: async () => {
      abort.abort();
      await output.close();
      // agents' output keeps its publication to itself.
      const sid = (output as unknown as { publication?: { sid?: string } }).publication?.sid;
      if (sid && room.isConnected) await room.localParticipant?.unpublishTrack(sid).catch(() => undefined);
    },
  };
}

import { voice } from '@livekit/agents';
import { TrackPublishOptions, TrackSource } from '@livekit/rtc-node';
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
      const output = new voice.ParticipantAudioOutput(ctx.room, {
        sampleRate: 24000,
        numChannels: 1,
        trackPublishOptions: new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
      });
      const abort = new AbortController();
      await output.start(abort.signal);
      ctx.session.output.audio = output;
      return {
        profile,
        close: async () => {
          abort.abort();
          await output.close();
        },
      };
    },
  };
}

import { unrealExpressionTools } from './tools.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle } from '../contract.js';
import type { AvatarMediaSink } from '../local/media-sink.js';
import { RoomMediaSink } from '../local/room-sink.js';
import { UnrealLink } from './link.js';
import { UnrealAvatarOutput } from './output.js';
import type { UnrealProfile } from './profiles.js';

/**
 * A MetaHuman (or any Unreal scene) streamed by Pixel Streaming, bridged into the room: the worker
 * joins as a player, speaks into Unreal's microphone input and republishes Unreal's video with the
 * agent's voice held back to match. attach throws (the registry falls back) when Unreal cannot be
 * streamed within connectTimeoutMs; a later loss is retried, then reported through `lost`.
 */
export function unrealAdapter(profile: UnrealProfile): AvatarAdapter {
  return {
    async attach(ctx: AvatarContext): Promise<AvatarHandle> {
      const logger = ctx.logger.child({ avatar: profile.name, adapter: 'unreal' });
      const sink = ctx.sink ?? roomSink(ctx);
      const link = new UnrealLink(profile, logger);
      try {
        await link.start();
      } catch (err) {
        await link.close();
        throw new Error(`unreal avatar ${profile.name}: ${(err as Error).message}`);
      }
      const output = new UnrealAvatarOutput({ link, sink, profile, logger });
      try {
        await output.start();
      } catch (err) {
        await link.close();
        throw new Error(`unreal avatar ${profile.name}: could not open the media sink: ${(err as Error).message}`);
      }
      ctx.session.output.audio = output;
      return {
        profile,
        timings: output,
        // Unreal paces its own video; every frame it sends is republished.
        stats: () => ({ shown: output.stats().framesIn, dropped: 0, repeated: 0 }),
        tools: unrealExpressionTools(output, profile.expressions),
        lost: link.lost,
        close: async () => {
          await output.close();
          await link.close();
        },
      };
    },
  };
}

function roomSink(ctx: AvatarContext): AvatarMediaSink {
  if (!ctx.room) throw new Error('the unreal avatar needs a room or a media sink');
  return new RoomMediaSink(ctx.room, ctx.logger);
}

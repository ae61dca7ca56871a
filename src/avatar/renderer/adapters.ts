import type { AvatarAdapter, AvatarContext, AvatarHandle } from '../contract.js';
import type { AvatarMediaSink } from '../local/media-sink.js';
import { RoomMediaSink } from '../local/room-sink.js';
import type { DiffusionProfile, RendererProfile, SplatProfile } from './profiles.js';
import { rendererOutputFor } from './renderer-output.js';

/** A talking-head diffusion model (MuseTalk, Ditto, LatentSync…) on a GPU server: audio in, frames out. */
export function diffusionAdapter(profile: DiffusionProfile): AvatarAdapter {
  return rendererAdapter(profile);
}

/** A Gaussian-splat head (GaussianTalker, LAM…) on a GPU server: audio or ARKit blendshapes in, frames out. */
export function splatAdapter(profile: SplatProfile): AvatarAdapter {
  return rendererAdapter(profile);
}

/**
 * attach: connect to the renderer and start its session within `startTimeoutMs`, then set the
 * session's audio output. It throws a clear Error when the renderer cannot serve (the registry
 * falls back); later faults reconnect, and `lost` resolves when the renderer is gone for good.
 */
function rendererAdapter(profile: RendererProfile): AvatarAdapter {
  return {
    async attach(ctx: AvatarContext): Promise<AvatarHandle> {
      const sink = ctx.sink ?? roomSink(ctx, profile);
      const output = rendererOutputFor(profile, { sink, logger: ctx.logger, keys: ctx.keys });
      try {
        await output.start();
      } catch (err) {
        await output.close().catch(() => undefined);
        throw new Error(`${profile.adapter} avatar ${profile.name}: ${(err as Error).message}`);
      }
      ctx.session.output.audio = output;
      return {
        profile,
        timings: output,
        lost: output.lost,
        stats: () => {
          const s = output.syncStats;
          return { shown: s.fresh, dropped: s.droppedLate + s.overflow, repeated: s.repeated };
        },
        close: () => output.close(),
      };
    },
  };
}

function roomSink(ctx: AvatarContext, profile: RendererProfile): AvatarMediaSink {
  if (!ctx.room) throw new Error(`the ${profile.adapter} avatar needs a room or a media sink`);
  return new RoomMediaSink(ctx.room, ctx.logger);
}

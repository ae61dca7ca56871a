import type { BuiltinProfile } from '../config/avatar-profile.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle } from './contract.js';
import type { AvatarMediaSink } from './local/media-sink.js';
import { builtinOutput } from './local/outputs.js';
import { RoomMediaSink } from './local/room-sink.js';

export { builtinAnimator } from './local/outputs.js';

/** The default avatar: a 2D face drawn on the CPU, published by the worker itself. */
export function builtinAdapter(profile: BuiltinProfile): AvatarAdapter {
  return {
    async attach(ctx: AvatarContext): Promise<AvatarHandle> {
      const sink = ctx.sink ?? roomSink(ctx);
      const output = builtinOutput(profile, { sink, logger: ctx.logger, ...(ctx.keys ? { keys: ctx.keys } : {}) });
      await output.start();
      ctx.session.output.audio = output;
      return {
        profile,
        localOutput: output,
        close: () => output.close(),
      };
    },
  };
}

function roomSink(ctx: AvatarContext): AvatarMediaSink {
  if (!ctx.room) throw new Error('the builtin avatar needs a room or a media sink');
  return new RoomMediaSink(ctx.room, ctx.logger);
}

import type { BuiltinProfile } from '../config/avatar-profile.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle } from './contract.js';
import { createBuiltinFace } from './frames/builtin/index.js';
import { AvatarAnimator } from './local/animator.js';
import { LocalAvatarOutput } from './local/avatar-output.js';
import type { AvatarMediaSink } from './local/media-sink.js';
import { RoomMediaSink } from './local/room-sink.js';
import { createVisemeEngine } from './visemes/index.js';

export function builtinAnimator(profile: BuiltinProfile): AvatarAnimator {
  const face = createBuiltinFace({ width: profile.width, height: profile.height, seed: profile.seed, style: profile.style });
  return new AvatarAnimator(face, createVisemeEngine({ fps: profile.fps }), profile.fps, profile.sampleRate);
}

/** The default avatar: a 2D face drawn on the CPU, published by the worker itself. */
export function builtinAdapter(profile: BuiltinProfile): AvatarAdapter {
  return {
    async attach(ctx: AvatarContext): Promise<AvatarHandle> {
      const sink = ctx.sink ?? roomSink(ctx);
      const output = new LocalAvatarOutput({ animator: builtinAnimator(profile), sink, logger: ctx.logger });
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

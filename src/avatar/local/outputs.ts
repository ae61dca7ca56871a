import type { Logger } from 'pino';
import type { AvatarProfile, BuiltinProfile } from '../../config/avatar-profile.js';
import type { AvatarKeys } from '../../config/config.js';
import type { LocalOutput } from '../contract.js';
import { createBuiltinFace } from '../frames/builtin/index.js';
import { createVisemeEngine } from '../visemes/index.js';
import { rendererOutputFor } from '../renderer/renderer-output.js';
import { AvatarAnimator } from './animator.js';
import { LocalAvatarOutput } from './avatar-output.js';
import type { AvatarMediaSink } from './media-sink.js';

export interface LocalOutputOptions {
  /** Where the frames and the voice go (a RoomMediaSink in a job or the avatar runner, memory in tests). */
  sink: AvatarMediaSink;
  logger: Logger;
  /** Shared secrets a local renderer may need (AVATAR_RENDERER_SECRET for the renderer protocol). */
  keys?: AvatarKeys;
}

/** The builtin face's animator: the 2D face drawn on the CPU, its mouth driven by the audio. */
export function builtinAnimator(profile: BuiltinProfile): AvatarAnimator {
  const face = createBuiltinFace({ width: profile.width, height: profile.height, seed: profile.seed, style: profile.style });
  return new AvatarAnimator(face, createVisemeEngine({ fps: profile.fps }), profile.fps, profile.sampleRate);
}

export function builtinOutput(profile: BuiltinProfile, opts: LocalOutputOptions): LocalAvatarOutput {
  return new LocalAvatarOutput({ animator: builtinAnimator(profile), sink: opts.sink, logger: opts.logger });
}

/**
 * The local output (speech in, synchronized face and voice out into `sink`) for a profile whose
 * video this process renders: what a job's local adapter and the avatar runner both drive. Not
 * started yet: the caller calls start() once the sink may publish. Throws, naming the profile,
 * when the profile renders nothing here.
 */
export function localOutputFor(profile: AvatarProfile, opts: LocalOutputOptions): LocalOutput {
  switch (profile.adapter) {
    case 'builtin':
      return builtinOutput(profile, opts);
    case 'diffusion':
    case 'splat':
      // Frames from a GPU server over the renderer protocol (needs opts.keys.rendererSecret).
      return rendererOutputFor(profile, opts);
    // 'unreal' is not offered here: its bridge is a player of one Unreal instance, which a runner
    // serving many rooms cannot share; the worker's own `unreal` adapter drives it.
    case 'none':
      throw new Error(`avatar ${profile.name} is voice only (adapter none): it has no face to render; name a builtin (or other local) profile`);
    default: {
      // Remote profiles (a provider's avatar joins the room itself) have no local output.
      const { name, adapter } = profile as { name: string; adapter: string };
      throw new Error(`avatar ${name} (adapter ${adapter}) is not rendered in this process; name a local profile (builtin)`);
    }
  }
}

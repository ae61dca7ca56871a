import type { voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { AvatarProfile } from '../config/avatar-profile.js';
import type { LocalAvatarOutput } from './local/avatar-output.js';
import type { AvatarMediaSink } from './local/media-sink.js';

/**
 * Everything an adapter may use. The room is an edge, passed in: without one (tests, `converse`)
 * a local avatar renders into `sink` instead.
 */
export interface AvatarContext {
  session: voice.AgentSession;
  room?: Room;
  /** Where a local avatar's frames go when there is no room (or to override the room). */
  sink?: AvatarMediaSink;
  logger: Logger;
}

/** A running avatar for one job. */
export interface AvatarHandle {
  readonly profile: AvatarProfile;
  /** The local family's output, already set as the session's audio output; absent otherwise. */
  readonly localOutput?: LocalAvatarOutput;
  close(): Promise<void>;
}

/**
 * One kind of avatar. `attach` runs before `AgentSession.start()` (the session's audio output
 * must be in place by then) and throws if the avatar cannot serve; the registry then falls back.
 * Local family: renders in this process and publishes tracks. Remote family: a provider's
 * participant joins the room and receives the speech over DataStream.
 */
export interface AvatarAdapter {
  attach(ctx: AvatarContext): Promise<AvatarHandle>;
}

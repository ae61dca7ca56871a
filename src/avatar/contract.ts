import type { llm, voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { AvatarProfile } from '../config/avatar-profile.js';
import type { AvatarKeys } from '../config/config.js';
import type { SegmentTimings } from './local/avatar-output.js';
import type { AvatarMediaSink } from './local/media-sink.js';

/** How the worker reaches LiveKit, for adapters that mint a token or call RoomService. */
export interface LiveKitAccess {
  /** The URL this worker uses (RoomService calls, a runner on the same network). */
  url: string;
  /** The URL as a provider's cloud reaches it (LIVEKIT_PUBLIC_URL), when it differs. */
  publicUrl?: string;
  apiKey: string;
  apiSecret: string;
}

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
  /** Avatar providers' keys and shared secrets, from the environment only. */
  keys?: AvatarKeys;
  /** Needed by the remote family (tokens for the avatar participant, removing it on close). */
  livekit?: LiveKitAccess;
}

/** Anything that reports, per speech segment, when its first audio arrived and its first speaking frame left. */
export interface SegmentTimingSource {
  onSegmentTimings(listener: (t: SegmentTimings) => void): void;
  /** False while the source has nothing to report (a relay whose current avatar is voice only). */
  readonly reporting?: boolean;
}

/**
 * The local family's shape: an audio output that plays the agent's speech out in real time and
 * publishes, into a media sink, the video that matches it. The builtin face, the renderer
 * protocol client and the Unreal bridge are each one; the avatar runner drives any of them.
 */
export interface LocalOutput extends voice.AudioOutput, SegmentTimingSource {
  /** Open the sink and start the video clock (the avatar idles at once). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Frame counts since the avatar started (cumulative), for /metrics: fps is their rate. */
export interface AvatarFrameStats {
  /** Fresh frames published. */
  shown: number;
  /** Frames thrown away because they came too late (or beyond the queue cap). */
  dropped: number;
  /** Ticks that repeated the previous picture because the renderer had nothing yet. */
  repeated: number;
}

/** A running avatar for one job. */
export interface AvatarHandle {
  readonly profile: AvatarProfile;
  /** The local family's output, already set as the session's audio output; absent otherwise. */
  readonly localOutput?: LocalOutput;
  /** Per-segment timings for the latency breakdown (local output, renderer output, remote playback start). */
  readonly timings?: SegmentTimingSource;
  /**
   * Resolves, with the reason, if the avatar stops serving mid-call (the provider's participant
   * left, the renderer is gone for good). Never rejects. The registry then moves down the
   * fallback chain and the conversation goes on.
   */
  readonly lost?: Promise<string>;
  /** Attributes the registry adds to the agent participant's while this avatar shows (the client adapter's `avatar.client`). */
  readonly attributes?: Record<string, string>;
  /** Frame counts of a renderer this worker receives frames from (GPU renderer, Unreal). */
  stats?(): AvatarFrameStats;
  /** Tools the LLM may call to drive this avatar (an Unreal MetaHuman's emotions and gestures). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly tools?: Record<string, llm.AnonFunctionTool<any, any, any>>;
  close(): Promise<void>;
}

/**
 * One kind of avatar. `attach` runs before `AgentSession.start()` (the session's audio output
 * must be in place by then) or mid-call when a previous avatar was lost; it sets
 * `ctx.session.output.audio` and throws if the avatar cannot serve (the registry then falls back).
 * Local family: renders in this process and publishes tracks. Remote family: a provider's
 * participant joins the room and receives the speech over DataStream.
 */
export interface AvatarAdapter {
  attach(ctx: AvatarContext): Promise<AvatarHandle>;
}

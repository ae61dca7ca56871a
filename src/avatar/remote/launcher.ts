import type { voice } from '@livekit/agents';
import type { Logger } from 'pino';
import type { SegmentTimingSource } from '../contract.js';
import type { RemoteProvider } from './profiles.js';
import type { AvatarGrants } from './token.js';

/** What a provider needs to send its avatar into the room. */
export interface LaunchRequest {
  /** The LiveKit URL as the provider's cloud reaches it, always ws:// or wss://. */
  livekitUrl: string;
  /** The avatar participant's join token (see token.ts). */
  token: string;
  room: string;
  /** The room's sid, for providers that want it (LemonSlice). */
  roomSid?: string;
  avatarIdentity: string;
  /** The agent participant's identity, whose voice the avatar renders (Runway, Keyframe and Avatario send it). */
  agentIdentity: string;
  /** The avatar participant's display name, when the profile sets one. */
  avatarName?: string;
  /** The worker's LiveKit key pair (LiveKit Inference's gateway calls are signed with it). */
  livekitKeys: { apiKey: string; apiSecret: string };
  /** Sends a reliable data packet to the avatar participant (Runway's END_CALL). */
  sendToAvatar(payload: string): Promise<void>;
  /** Deadline for each HTTP call of the launch (the profile's launchTimeoutMs). */
  timeoutMs: number;
  /** Aborted when the attach gives up (a start deadline passed) or the handle closes. */
  signal: AbortSignal;
  logger: Logger;
}

/** An audio output for a provider that takes speech some other way than DataStream (LiveAvatar). */
export interface RemoteOutput extends voice.AudioOutput, SegmentTimingSource {
  /** The avatar is gone: finish pending playback as interrupted, send nothing more. */
  markLost(reason: string): void;
  /** Called once the output is the session's: for outputs that follow the agent's state (LiveAvatar's listening pose). */
  bindSession?(session: voice.AgentSession): void;
  close(): Promise<void>;
}

/** A provider session that was started. */
export interface LaunchedAvatar {
  /** The provider's id for the session, for logs and support requests. */
  sessionId?: string;
  /** Ends the provider session (so it stops billing). Must not throw for an already ended session. */
  end?(): Promise<void>;
  /** `end` speaks to the avatar in the room (Runway's END_CALL): it runs before the participant is removed, not beside it. */
  endInRoom?: boolean;
  /** The rate the avatar takes speech at, when the provider's answer says (LiveKit Inference); else the profile's. */
  sampleRate?: number;
  /** Set by providers whose speech does not travel over DataStream. */
  output?: RemoteOutput;
  /** Resolves with a reason if the provider's own channel fails mid-call (LiveAvatar's websocket). */
  lost?: Promise<string>;
}

/** One provider's session calls. */
export interface RemoteLauncher {
  readonly provider: RemoteProvider;
  /** The provider's name as people know it, e.g. `Tavus`. */
  readonly label: string;
  /** Said with every failure of this provider. */
  readonly failureNote?: string;
  /** Grants the avatar's token carries besides the common ones, as this provider's official plugin gives them. */
  readonly tokenGrants?: AvatarGrants;
  /**
   * The participant that hears the speech and answers the playback RPCs, where that is not the
   * avatar (AvatarTalk's `listener`, which the launcher mints a token for): attach waits for it to
   * join as well as for the avatar's video, its leaving loses the avatar, and close removes it.
   */
  readonly speechIdentity?: string;
  launch(req: LaunchRequest): Promise<LaunchedAvatar>;
}

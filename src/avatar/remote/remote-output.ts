import { voice } from '@livekit/agents';
import { TrackKind, type AudioFrame, type Room, type RpcInvocationData } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { SegmentTimingSource } from '../contract.js';
import type { SegmentTimings } from '../local/avatar-output.js';
import { routeAvatarRpc } from './rpc-routes.js';

export const RPC_CLEAR_BUFFER = 'lk.clear_buffer';
export const RPC_PLAYBACK_FINISHED = 'lk.playback_finished';
export const RPC_PLAYBACK_STARTED = 'lk.playback_started';

export interface RemoteAudioOutputOptions {
  room: Room;
  /** The participant the speech goes to and whose playback RPCs count: the avatar, or its listener (AvatarTalk). */
  avatarIdentity: string;
  /** Send speech only once that participant publishes video (default true; false for a listener, which publishes none). */
  waitVideo?: boolean;
  /** Rate the provider expects; AgentSession resamples to it. */
  sampleRate: number;
  /** Hold `playbackStarted` until the avatar calls lk.playback_started (providers that send it). */
  waitPlaybackStart?: boolean;
  logger: Logger;
  /** After lk.clear_buffer, how long the avatar has to answer lk.playback_finished. Default 2000 ms (Python's value). */
  clearTimeoutMs?: number;
  /**
   * After a segment's audio is all sent, how long past its duration the avatar has to answer
   * before the segment is taken as played. Default 10 s: long enough for a provider that starts
   * late, short enough that a mute avatar cannot hold the conversation.
   */
  playoutGraceMs?: number;
  /** How long a late answer to a given-up clear is still recognised and swallowed. Default 30 s. */
  lateAnswerWindowMs?: number;
}

/**
 * The avatar's lk.playback_finished payload, read the way agents-js reads it: snake_case from the
 * protocol (Python runners, Anam), camelCase tolerated, and anything malformed replaced by a
 * default rather than refused: an answer of "reject" would leave the turn waiting for a watchdog.
 * `problems` lists what was replaced, for the log.
 */
export function parsePlaybackFinished(payload: string): { position?: number; interrupted: boolean; transcript?: string; problems: string[] } {
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  let json: unknown;
  try {
    json = payload ? JSON.parse(payload) : {};
  } catch {
    problems.push('not JSON');
  }
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) raw = json as Record<string, unknown>;
  else if (json !== undefined) problems.push('not a JSON object');
  const rawPosition = raw.playback_position ?? raw.playbackPosition;
  const position = typeof rawPosition === 'number' && Number.isFinite(rawPosition) && rawPosition >= 0 ? rawPosition : undefined;
  if (rawPosition !== undefined && rawPosition !== null && position === undefined) problems.push('playback_position is not a non-negative number');
  if (raw.interrupted !== undefined && typeof raw.interrupted !== 'boolean') problems.push('interrupted is not a boolean');
  const rawTranscript = raw.synchronized_transcript ?? raw.synchronizedTranscript;
  if (rawTranscript != null && typeof rawTranscript !== 'string') problems.push('synchronized_transcript is not a string');
  return {
    ...(position !== undefined ? { position } : {}),
    interrupted: raw.interrupted === true,
    ...(typeof rawTranscript === 'string' ? { transcript: rawTranscript } : {}),
    problems,
  };
}

/**
 * agents' DataStreamAudioOutput with the gaps users hit closed:
 *
 * - An interruption always ends: after lk.clear_buffer, if the avatar has not answered
 *   lk.playback_finished within `clearTimeoutMs`, the segment is finished as interrupted at the
 *   position pushed; the avatar's late answer, when it comes, is swallowed so it cannot end the
 *   next segment early. (agents-js waits forever; Python gives up after 2 s.)
 * - A segment the avatar never reports played is finished once its audio could have played out
 *   plus `playoutGraceMs`, so a mute avatar cannot stall a turn either.
 * - The playback RPCs are registered on this output's own room (agents-js registers them on the
 *   first Room of the process only), see rpc-routes.ts.
 * - An avatar lost mid-segment (`markLost`) finishes what is pending as interrupted at once.
 * - Per-segment timings: first audio handed to this output → the avatar's playback start.
 */
export class RemoteAudioOutput extends voice.DataStreamAudioOutput implements SegmentTimingSource {
  static {
    // Stop the base class from registering its process-wide RPC handlers (first Room only, one
    // table for all rooms): every RemoteAudioOutput registers per room instead. The flags are
    // public statics of DataStreamAudioOutput; nothing else in this worker uses that path.
    voice.DataStreamAudioOutput._playbackFinishedRpcRegistered = true;
    voice.DataStreamAudioOutput._playbackStartedRpcRegistered = true;
  }

  readonly avatarIdentity: string;
  private readonly remoteRoom: Room;
  private readonly log: Logger;
  private readonly holdPlaybackStart: boolean;
  private readonly clearTimeoutMs: number;
  private readonly playoutGraceMs: number;
  private readonly lateAnswerWindowMs: number;
  private readonly unroute: (() => void)[] = [];

  private segmentOpen = false;
  private segmentBroken = false;
  private segmentFirstAudioAt = 0;
  private segmentPushedS = 0;
  private timingsReported = false;
  /** Seconds pushed of the last segment that was closed (flush or clear). */
  private lastClosedPushedS = 0;
  private clearTimer: NodeJS.Timeout | undefined;
  private playoutTimer: NodeJS.Timeout | undefined;
  /** When the audio sent so far would have finished playing, had it started when it was sent. */
  private queueEndsAt = 0;
  private lateAnswers = { count: 0, until: 0 };
  private lostReason: string | undefined;
  private closed = false;

  constructor(opts: RemoteAudioOutputOptions) {
    super({
      room: opts.room,
      destinationIdentity: opts.avatarIdentity,
      sampleRate: opts.sampleRate,
      ...((opts.waitVideo ?? true) ? { waitRemoteTrack: TrackKind.KIND_VIDEO } : {}),
      waitPlaybackStart: opts.waitPlaybackStart ?? false,
    });
    this.remoteRoom = opts.room;
    this.avatarIdentity = opts.avatarIdentity;
    this.log = opts.logger;
    this.holdPlaybackStart = opts.waitPlaybackStart ?? false;
    this.clearTimeoutMs = opts.clearTimeoutMs ?? 2000;
    this.playoutGraceMs = opts.playoutGraceMs ?? 10_000;
    this.lateAnswerWindowMs = opts.lateAnswerWindowMs ?? 30_000;
    // The remote family attaches to a connected room (attach waits for the avatar to join).
    this.unroute.push(routeAvatarRpc(opts.room, RPC_PLAYBACK_FINISHED, opts.avatarIdentity, (d) => this.onFinishedRpc(d)));
    this.unroute.push(routeAvatarRpc(opts.room, RPC_PLAYBACK_STARTED, opts.avatarIdentity, () => this.onStartedRpc()));
  }

  /** Emitted once per segment, when the avatar starts playing it. */
  onSegmentTimings(listener: (t: SegmentTimings) => void): void {
    this.on('segment_timings', listener);
  }

  /** The avatar is gone: finish what it will never report, and from now on play nothing. */
  markLost(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    this.finishPending({ includeOpen: true, interrupted: true, why: `avatar lost: ${reason}` });
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    if (!this.segmentOpen) {
      this.segmentOpen = true;
      this.segmentBroken = false;
      this.segmentFirstAudioAt = Date.now();
      this.segmentPushedS = 0;
      this.timingsReported = false;
    }
    const seconds = frame.samplesPerChannel / frame.sampleRate;
    if (this.lostReason !== undefined || this.closed) {
      // Count the segment (so AgentSession's bookkeeping stays whole) but send nothing.
      await voice.AudioOutput.prototype.captureFrame.call(this, frame);
      this.segmentPushedS += seconds;
      return;
    }
    try {
      await super.captureFrame(frame);
      this.segmentPushedS += seconds;
    } catch (err) {
      // A failed write must not fail the reply; the segment ends as interrupted at its flush.
      if (!this.segmentBroken) this.log.warn({ err: (err as Error).message, avatar: this.avatarIdentity }, 'could not send speech to the avatar');
      this.segmentBroken = true;
      this.segmentPushedS += seconds;
    }
  }

  override flush(): void {
    const wasOpen = this.segmentOpen;
    this.segmentOpen = false;
    super.flush();
    if (!wasOpen) return;
    this.lastClosedPushedS = this.segmentPushedS;
    if (this.lostReason !== undefined || this.closed || this.segmentBroken) {
      this.finishPending({ includeOpen: false, interrupted: true, why: 'speech could not reach the avatar' });
      return;
    }
    this.armPlayoutWatchdog(this.segmentPushedS);
  }

  override clearBuffer(): void {
    if (this.segmentOpen) this.flush();
    if (this.pendingPlayoutSegments <= 0) return;
    if (this.lostReason !== undefined || this.closed) {
      this.finishPending({ includeOpen: true, interrupted: true, why: 'cleared while the avatar is gone' });
      return;
    }
    const pushed = this.lastClosedPushedS;
    this.remoteRoom.localParticipant
      ?.performRpc({ destinationIdentity: this.avatarIdentity, method: RPC_CLEAR_BUFFER, payload: '', responseTimeout: this.clearTimeoutMs })
      .catch((err: unknown) => {
        // The avatar cannot be told: nothing will answer, so end the playback now.
        this.log.warn({ err: (err as Error).message, avatar: this.avatarIdentity }, 'lk.clear_buffer failed; finishing the playback as interrupted');
        this.giveUpOnClear(pushed);
      });
    this.clearTimer ??= setTimeout(() => {
      this.clearTimer = undefined;
      this.log.warn({ avatar: this.avatarIdentity, timeoutMs: this.clearTimeoutMs }, 'avatar did not answer lk.clear_buffer; finishing the playback as interrupted');
      this.giveUpOnClear(pushed);
    }, this.clearTimeoutMs);
  }

  override onPlaybackStarted(createdAt: number): void {
    super.onPlaybackStarted(createdAt);
    if (!this.timingsReported && this.segmentFirstAudioAt > 0) {
      this.timingsReported = true;
      this.emit('segment_timings', { firstAudioAt: this.segmentFirstAudioAt, firstSpeakingFrameAt: createdAt } satisfies SegmentTimings);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unroute.splice(0)) off();
    this.finishPending({ includeOpen: true, interrupted: true, why: 'avatar output closed' });
    if (this.segmentOpen) {
      this.segmentOpen = false;
      super.flush();
    }
    this.stopTimers();
    // The base class keeps a process-wide table entry per identity; drop ours.
    delete voice.DataStreamAudioOutput._playbackFinishedHandlers[this.avatarIdentity];
    delete voice.DataStreamAudioOutput._playbackStartedHandlers[this.avatarIdentity];
  }

  private onFinishedRpc(data: RpcInvocationData): string {
    const p = parsePlaybackFinished(data.payload);
    if (p.problems.length) {
      this.log.warn(
        { avatar: this.avatarIdentity, problems: p.problems, payload: data.payload.slice(0, 200) },
        'malformed lk.playback_finished payload; taking it as the playback finished, with defaults for what could not be read',
      );
    }
    const interrupted = p.interrupted;
    if (this.lateAnswers.count > 0 && Date.now() < this.lateAnswers.until && interrupted) {
      // The answer to a clear we already gave up on: it belongs to a finished segment.
      this.lateAnswers.count--;
      this.log.debug({ avatar: this.avatarIdentity }, 'late lk.playback_finished for an already finished segment; ignored');
      return 'ok';
    }
    this.lateAnswers.count = 0;
    if (this.pendingPlayoutSegments <= 0) {
      this.log.debug({ avatar: this.avatarIdentity }, 'lk.playback_finished with no segment playing; ignored');
      return 'ok';
    }
    if (this.clearTimer) {
      clearTimeout(this.clearTimer);
      this.clearTimer = undefined;
    }
    this.onPlaybackFinished({
      // No readable position: a segment played to its end was heard whole; an interrupted one, as agents-js says, from 0.
      playbackPosition: p.position ?? (interrupted ? 0 : this.lastClosedPushedS),
      interrupted,
      ...(p.transcript !== undefined ? { synchronizedTranscript: p.transcript } : {}),
    });
    if (this.closedPending() <= 0) this.stopPlayoutWatchdog();
    return 'ok';
  }

  private onStartedRpc(): string {
    if (this.holdPlaybackStart) this.onPlaybackStarted(Date.now());
    return 'ok';
  }

  private giveUpOnClear(pushedS: number): void {
    if (this.clearTimer) {
      clearTimeout(this.clearTimer);
      this.clearTimer = undefined;
    }
    const pending = this.closedPending();
    if (pending <= 0) return;
    this.lateAnswers = { count: this.lateAnswers.count + pending, until: Date.now() + this.lateAnswerWindowMs };
    this.finishPending({ includeOpen: false, interrupted: true, why: 'no answer to lk.clear_buffer', positionS: pushedS });
  }

  /** Segments captured and closed but not yet reported finished. */
  private closedPending(): number {
    return this.pendingPlayoutSegments - (this.segmentOpen ? 1 : 0);
  }

  private finishPending(opts: { includeOpen: boolean; interrupted: boolean; why: string; positionS?: number }): void {
    let n = opts.includeOpen ? this.pendingPlayoutSegments : this.closedPending();
    if (n > 0) this.log.debug({ avatar: this.avatarIdentity, segments: n, why: opts.why }, 'finishing avatar playback without its answer');
    while (n-- > 0) {
      const position = opts.positionS ?? (this.segmentOpen && n === 0 ? this.segmentPushedS : this.lastClosedPushedS);
      this.onPlaybackFinished({ playbackPosition: position, interrupted: opts.interrupted });
    }
    if (opts.includeOpen && this.segmentOpen) {
      // The open segment is reported; what the session still sends for it is dropped.
      this.segmentBroken = true;
    }
    if (this.closedPending() <= 0) this.stopPlayoutWatchdog();
    if (this.pendingPlayoutSegments <= 0 && this.clearTimer) {
      clearTimeout(this.clearTimer);
      this.clearTimer = undefined;
    }
  }

  private armPlayoutWatchdog(segmentS: number): void {
    const now = Date.now();
    // Segments play one after another: this one ends after the audio queued before it.
    this.queueEndsAt = Math.max(this.queueEndsAt, now) + segmentS * 1000;
    if (this.playoutTimer) clearTimeout(this.playoutTimer);
    this.playoutTimer = setTimeout(() => {
      this.playoutTimer = undefined;
      if (this.closedPending() <= 0) return;
      this.log.warn({ avatar: this.avatarIdentity, graceMs: this.playoutGraceMs }, 'avatar never reported the segment played; finishing it');
      this.lateAnswers = { count: 0, until: 0 };
      this.finishPending({ includeOpen: false, interrupted: false, why: 'playout deadline passed' });
    }, this.queueEndsAt + this.playoutGraceMs - now);
    this.playoutTimer.unref?.();
  }

  private stopPlayoutWatchdog(): void {
    if (this.playoutTimer) clearTimeout(this.playoutTimer);
    this.playoutTimer = undefined;
    this.queueEndsAt = 0;
  }

  private stopTimers(): void {
    this.stopPlayoutWatchdog();
    if (this.clearTimer) clearTimeout(this.clearTimer);
    this.clearTimer = undefined;
  }
}

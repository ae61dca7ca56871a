import { randomUUID } from 'node:crypto';
import { AudioResampler, AudioResamplerQuality, Room, RoomEvent, type AudioFrame } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import type { AvatarProfile } from '../../config/avatar-profile.js';
import type { AvatarKeys } from '../../config/config.js';
import type { LocalOutput } from '../contract.js';
import type { AvatarMediaSink } from '../local/media-sink.js';
import { localOutputFor } from '../local/outputs.js';
import { RoomMediaSink } from '../local/room-sink.js';
import { DataStreamAudioReceiver, type ReceivedSegmentInfo } from './datastream-receiver.js';
import type { LaunchTarget } from './launch-request.js';

export interface RunnerSessionOptions {
  target: LaunchTarget;
  /** The avatar to render: a profile with a local output (builtin, later the renderer protocol). */
  profile: AvatarProfile;
  logger: Logger;
  keys?: AvatarKeys;
  /** How long joining may take. Default 15 s. */
  joinTimeoutMs?: number;
  /** Leave if the agent is not in the room this long after joining. Default 30 s. */
  agentWaitMs?: number;
  /** Where the face and voice go; default: published into the room (avatar_video, avatar_audio). */
  sink?: (room: Room) => AvatarMediaSink;
}

/** One speech segment from the agent, followed until the agent has been told it finished. */
interface Segment {
  info: ReceivedSegmentInfo;
  /** Its first frame has been handed to the output: the output owes it one playbackFinished. */
  reachedOutput: boolean;
  finished: boolean;
  resampler?: AudioResampler;
  done: Promise<void>;
  resolveDone: () => void;
}

/**
 * One avatar in one room, launched by `POST /launch`: joins with the launch token, receives the
 * agent's speech over DataStream, plays it through a local output (the face and the voice, in
 * sync, published into the room) and tells the agent when each segment started and finished.
 * Leaves when the agent leaves, the room ends, or close() is called.
 */
export class RunnerSession {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  /** Resolves with why the session ended. */
  readonly ended: Promise<string>;
  segmentsReceived = 0;
  segmentsInterrupted = 0;

  private resolveEnded!: (reason: string) => void;
  private closing: Promise<void> | undefined;
  /** Work on the output, in arrival order; a clear bumps `generation` and what was queued is skipped. */
  private work: Promise<void> = Promise.resolve();
  private generation = 0;
  private readonly segments = new Map<string, Segment>();
  /** The segment the output is playing (at most one: the next waits until it has finished). */
  private playing: Segment | undefined;
  private agentTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly room: Room,
    readonly identity: string,
    readonly roomName: string,
    private readonly agentIdentity: string | undefined,
    private readonly output: LocalOutput,
    private readonly receiver: DataStreamAudioReceiver,
    private readonly log: Logger,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  static async start(opts: RunnerSessionOptions): Promise<RunnerSession> {
    const { target } = opts;
    const room = new Room();
    try {
      await withDeadline(room.connect(target.url, target.token, { autoSubscribe: false, dynacast: false }), opts.joinTimeoutMs ?? 15_000, 'joining the room');
    } catch (err) {
      await room.disconnect().catch(() => undefined);
      // rtc-node errors may quote the signal URL, which carries the token: never pass it on.
      throw new Error(`could not join room ${target.room ?? '(from the token)'} at ${target.url}: ${scrub((err as Error).message, target.token)}`);
    }
    const identity = room.localParticipant!.identity;
    const roomName = room.name ?? target.room ?? '';
    const log = opts.logger.child({ room: roomName, avatar: identity });
    // Registered before anything is published: an agent that does not wait for our video may
    // stream its first words the moment we join, and a stream with no handler is lost.
    const receiver = new DataStreamAudioReceiver({ room, logger: log, ...(target.agentIdentity ? { senderIdentity: target.agentIdentity } : {}) });
    receiver.start();
    let output: LocalOutput;
    try {
      output = localOutputFor(opts.profile, { sink: opts.sink?.(room) ?? new RoomMediaSink(room, log), logger: log, ...(opts.keys ? { keys: opts.keys } : {}) });
      await output.start();
    } catch (err) {
      await receiver.close().catch(() => undefined);
      await room.disconnect().catch(() => undefined);
      throw new Error(`avatar ${opts.profile.name} could not start in room ${roomName}: ${(err as Error).message}`);
    }
    const session = new RunnerSession(room, identity, roomName, target.agentIdentity, output, receiver, log);
    session.wire(opts.agentWaitMs ?? 30_000);
    log.info({ agent: target.agentIdentity, profile: opts.profile.name }, 'avatar joined the room');
    return session;
  }

  /** Leaves the room (unpublishing the avatar) and stops rendering. */
  close(reason = 'closed'): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.agentTimer);
      this.generation++;
      this.log.info({ reason }, 'avatar leaving the room');
      await this.receiver.close().catch(() => undefined);
      await this.output.close().catch((err: unknown) => this.log.warn({ err }, 'avatar output did not close cleanly'));
      for (const s of this.segments.values()) s.resolveDone();
      await this.room.disconnect().catch(() => undefined);
      this.resolveEnded(reason);
    })();
    return this.closing;
  }

  private wire(agentWaitMs: number): void {
    const { receiver, output, room } = this;
    receiver.on('segmentStart', (info) => this.onSegmentStart(info));
    receiver.on('frame', (frame, info) => this.onFrame(frame, info));
    receiver.on('segmentEnd', (info) => this.onSegmentEnd(info.id, info.cleared));
    receiver.on('clear', () => this.onClear());
    receiver.on('rejected', (r) => {
      // The agent counts every stream it opened as a segment and waits for its end: a stream we
      // cannot play (bad attributes) is reported unplayed, so the agent's turn does not stall.
      if (r.kind === 'attributes' && r.sender === this.agent()) void receiver.notifyPlaybackFinished(0, true);
    });
    output.on('playbackStarted', () => void receiver.notifyPlaybackStarted());
    output.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => this.onOutputFinished(ev.playbackPosition, ev.interrupted));

    room.on(RoomEvent.ParticipantDisconnected, (p) => {
      if (p.identity === this.agent()) void this.close(`the agent ${p.identity} left`);
      else if (!this.agent() && room.remoteParticipants.size === 0) void this.close('everyone else left');
    });
    room.on(RoomEvent.Disconnected, (reason) => void this.close(`disconnected from the room (${String(reason)})`));
    const agent = this.agent();
    if (agent && !room.remoteParticipants.has(agent)) {
      this.agentTimer = setTimeout(() => {
        if (!room.remoteParticipants.has(agent)) void this.close(`the agent ${agent} did not join within ${agentWaitMs} ms`);
      }, agentWaitMs);
      this.agentTimer.unref();
    }
  }

  /** The agent this avatar serves: named by the token, else whoever sent speech. */
  private agent(): string | undefined {
    return this.agentIdentity ?? this.receiver.agentIdentity;
  }

  private enqueue(step: () => Promise<void> | void): void {
    const generation = this.generation;
    this.work = this.work
      .then(() => (generation === this.generation ? step() : undefined))
      .catch((err: unknown) => this.log.error({ err }, 'avatar playback step failed'));
  }

  private onSegmentStart(info: ReceivedSegmentInfo): void {
    this.segmentsReceived++;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    this.segments.set(info.id, { info, reachedOutput: false, finished: false, done, resolveDone });
  }

  private onFrame(frame: AudioFrame, info: ReceivedSegmentInfo): void {
    const segment = this.segments.get(info.id);
    if (!segment) return;
    this.enqueue(() => this.play(segment, this.toOutputRate(segment, frame)));
  }

  private async play(segment: Segment, frames: AudioFrame[]): Promise<void> {
    const generation = this.generation;
    for (const f of frames) {
      // A clear while a frame waited for room must not let the rest open a new segment.
      if (generation !== this.generation) return;
      if (!segment.reachedOutput) {
        segment.reachedOutput = true;
        this.playing = segment;
      }
      await this.output.captureFrame(f);
    }
  }

  private onSegmentEnd(id: string, cleared: boolean): void {
    const segment = this.segments.get(id);
    if (!segment) return;
    if (cleared) {
      // Settled by onClear if it was there by then; one that began after it never reached the output.
      if (!segment.reachedOutput) this.finish(segment, 0, true);
      return;
    }
    this.enqueue(async () => {
      if (segment.resampler) {
        const tail = segment.resampler.flush();
        segment.resampler.close();
        delete segment.resampler;
        await this.play(segment, tail);
      }
      if (!segment.reachedOutput) {
        // Nothing of it was playable (an empty stream): it is over as soon as it began.
        this.finish(segment, 0, false);
        return;
      }
      this.output.flush();
      // The next segment waits for this one to play out: an output takes one segment at a time.
      await segment.done;
    });
  }

  private onClear(): void {
    this.generation++;
    // The output finishes the segment it is playing (interrupted, with what was heard) at once,
    // or, in the last moments of a segment, reports its natural end a few ms later.
    this.output.clearBuffer();
    for (const segment of [...this.segments.values()]) {
      segment.resampler?.close();
      delete segment.resampler;
      if (segment.finished || (segment.reachedOutput && segment === this.playing)) continue;
      // Received but never played: the agent still counts it, so it is reported, unheard.
      this.finish(segment, 0, true);
    }
  }

  private onOutputFinished(position: number, interrupted: boolean): void {
    const segment = this.playing;
    this.playing = undefined;
    if (!segment) {
      this.log.warn({ position, interrupted }, 'the avatar output finished a segment the runner was not following');
      void this.receiver.notifyPlaybackFinished(position, interrupted);
      return;
    }
    this.finish(segment, position, interrupted);
  }

  private finish(segment: Segment, position: number, interrupted: boolean): void {
    if (segment.finished) return;
    segment.finished = true;
    this.segments.delete(segment.info.id);
    if (interrupted) this.segmentsInterrupted++;
    segment.resolveDone();
    this.log.debug({ segment: segment.info.id, position, interrupted }, 'segment finished');
    void this.receiver.notifyPlaybackFinished(position, interrupted);
  }

  /** Frames at the output's rate (the agent sends at its own: 16, 24 or 48 kHz). */
  private toOutputRate(segment: Segment, frame: AudioFrame): AudioFrame[] {
    if (frame.sampleRate === this.output.sampleRate || this.output.sampleRate === undefined) return [frame];
    segment.resampler ??= new AudioResampler(frame.sampleRate, this.output.sampleRate, frame.channels, AudioResamplerQuality.MEDIUM);
    return segment.resampler.push(frame);
  }
}

function scrub(message: string, token: string): string {
  return token ? message.split(token).join('[token]') : message;
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

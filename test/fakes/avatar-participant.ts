/**
 * A fake avatar participant: what a provider's avatar (Tavus, Hedra, bey, a self-hosted runner...)
 * does in the room, for tests of the remote avatar family. It speaks LiveKit's DataStream avatar
 * protocol for real (src/avatar/runner/datastream-receiver.ts over a real rtc-node Room); the only
 * thing faked is the face: a small synthetic camera track instead of a rendered one.
 *
 * API
 * ```ts
 * import { startFakeAvatar } from './fakes/avatar-participant.js';
 * const avatar = await startFakeAvatar({
 *   url: server.url,
 *   token,                   // its identity (and lk.publish_on_behalf) come from the token
 *   // knobs, all optional (also changeable later with avatar.setKnobs({...})):
 *   neverPublishVideo: false, // true: join but never publish `avatar_video` (agents' waitRemoteTrack waits forever)
 *   videoDelayMs: 0,          // publish the video this long after joining
 *   silent: false,            // true: never send lk.playback_finished after a lk.clear_buffer (a stalled avatar)
 *   playbackStarted: true,    // send lk.playback_started when a segment starts to play
 *   leaveAfterMs: undefined,  // disconnect by itself this long after joining
 *   finishDelayMs: 0,         // send each lk.playback_finished this much later than the audio ends
 *   senderIdentity: undefined // accept speech only from this agent identity (default: any)
 * });
 * avatar.identity;            // from the token
 * avatar.room;                // the connected rtc-node Room
 * avatar.segments;            // ReceivedSegment[]: every lk.audio_stream, in order (see below)
 * avatar.clears;              // { at, callerIdentity, arriving?: segment id }[]: every lk.clear_buffer
 * avatar.sent;                // SentRpc[]: every playback RPC it sent ({ method, payload, at, ok })
 * avatar.rejected;            // streams it refused (e.g. no sample_rate attribute), with the reason
 * await avatar.waitForSegments(1, 10_000);   // resolves when n segments have ENDED (stream closed or cleared)
 * await avatar.waitForClear(5_000);           // resolves with the next (or an already recorded, unseen) clear
 * await avatar.waitForFinished(1, 10_000);    // resolves when n lk.playback_finished have been answered "ok"
 * await avatar.leave();                        // disconnects; `avatar.left` resolves with the reason
 * ```
 *
 * Playout is simulated in real time, as a loudspeaker would play: a segment starts playing when
 * its first audio arrives (or when the segment before it ends), plays for as long as its audio
 * lasts, and lk.playback_finished {playback_position, interrupted: false} is sent when its last
 * sample would have been heard (never before its stream closed). lk.clear_buffer interrupts every
 * segment not yet finished: each gets lk.playback_finished {interrupted: true} with the seconds
 * heard so far (unless `silent`). A segment is recorded as
 * `{ id, sender, sampleRate, channels, attributes, bytes, pcm (Int16Array, interleaved), frames,
 *    openedAt, firstAudioAt, endedAt, cleared, playStartAt, finishedAt, reportedPosition, interrupted }`.
 */
import {
  LocalVideoTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoFrame,
  VideoSource,
  type LocalTrackPublication,
} from '@livekit/rtc-node';
import { concatPcm } from '../../src/audio/pcm.js';
import { createLogger } from '../../src/logging.js';
import { DataStreamAudioReceiver, type RejectedStream } from '../../src/avatar/runner/datastream-receiver.js';
import { playbackFinishedPayload, RPC_PLAYBACK_FINISHED, RPC_PLAYBACK_STARTED } from '../../src/avatar/runner/protocol.js';
import { AVATAR_VIDEO_TRACK } from '../../src/avatar/local/room-sink.js';
import { withTimeout } from './wait.js';

export interface FakeAvatarKnobs {
  /** Join but never publish the video track. */
  neverPublishVideo: boolean;
  /** Publish the video this long after joining. */
  videoDelayMs: number;
  /** Never answer a clear with lk.playback_finished (the agent's turn then waits for ever in agents-js 1.9). */
  silent: boolean;
  /** Send lk.playback_started when a segment starts to play. */
  playbackStarted: boolean;
  /** Send lk.playback_finished this much after the audio would have ended. */
  finishDelayMs: number;
}

export interface FakeAvatarOptions extends Partial<FakeAvatarKnobs> {
  url: string;
  token: string;
  /** Leave the room by itself this long after joining. */
  leaveAfterMs?: number;
  /** Accept speech and clears only from this identity. Default: anyone. */
  senderIdentity?: string;
  /** Video size and rate (small by default: the face is not what these tests look at). */
  video?: { width: number; height: number; fps: number };
  /** pino level for the receiver's log. Default `error`. */
  logLevel?: string;
}

export interface ReceivedSegment {
  id: string;
  sender: string;
  sampleRate: number;
  channels: number;
  attributes: Record<string, string>;
  /** PCM bytes received. */
  bytes: number;
  /** Everything received, interleaved PCM16 (set when the segment ends). */
  pcm: Int16Array;
  /** Length of each frame the receiver handed on, in samples per channel. */
  frames: number[];
  openedAt: number;
  firstAudioAt?: number;
  endedAt?: number;
  /** A clear arrived while the stream was still arriving. */
  cleared: boolean;
  error?: string;
  /** When its simulated playout started (its first sample heard). */
  playStartAt?: number;
  /** When lk.playback_finished was sent for it. */
  finishedAt?: number;
  reportedPosition?: number;
  interrupted?: boolean;
}

export interface ClearCall {
  at: number;
  callerIdentity: string;
  /** Id of the segment that was still arriving. */
  arriving?: string;
}

export interface SentRpc {
  method: string;
  payload: string;
  at: number;
  ok: boolean;
}

interface Playout {
  segment: ReceivedSegment;
  chunks: Int16Array[];
  receivedS: number;
  ended: boolean;
  startTimer?: NodeJS.Timeout;
  finishTimer?: NodeJS.Timeout;
}

export interface FakeAvatarParticipant {
  readonly identity: string;
  readonly room: Room;
  readonly receiver: DataStreamAudioReceiver;
  readonly segments: ReceivedSegment[];
  readonly clears: ClearCall[];
  readonly sent: SentRpc[];
  readonly rejected: RejectedStream[];
  readonly knobs: Readonly<FakeAvatarKnobs>;
  /** Resolves with why it left the room (`left by itself`, `leave()`, or the disconnect reason). */
  readonly left: Promise<string>;
  /** The published video track, once published. */
  readonly videoPublication: LocalTrackPublication | undefined;
  setKnobs(patch: Partial<FakeAvatarKnobs>): void;
  waitForSegments(n: number, ms: number): Promise<ReceivedSegment[]>;
  waitForClear(ms: number): Promise<ClearCall>;
  waitForFinished(n: number, ms: number): Promise<SentRpc[]>;
  leave(): Promise<void>;
}

export async function startFakeAvatar(opts: FakeAvatarOptions): Promise<FakeAvatarParticipant> {
  const knobs: FakeAvatarKnobs = {
    neverPublishVideo: opts.neverPublishVideo ?? false,
    videoDelayMs: opts.videoDelayMs ?? 0,
    silent: opts.silent ?? false,
    playbackStarted: opts.playbackStarted ?? true,
    finishDelayMs: opts.finishDelayMs ?? 0,
  };
  const room = new Room();
  await withTimeout(room.connect(opts.url, opts.token, { autoSubscribe: false, dynacast: false }), 15_000, 'the fake avatar to join');
  const identity = room.localParticipant!.identity;
  const logger = createLogger({ level: opts.logLevel ?? 'error', name: `fake-avatar:${identity}` });
  const receiver = new DataStreamAudioReceiver({ room, logger, ...(opts.senderIdentity ? { senderIdentity: opts.senderIdentity } : {}) });

  const segments: ReceivedSegment[] = [];
  const clears: ClearCall[] = [];
  const sent: SentRpc[] = [];
  const rejected: RejectedStream[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const changed = new Set<() => void>();
  const notify = () => {
    for (const wake of [...changed]) wake();
  };
  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    timers.add(timer);
    return timer;
  };
  const cancel = (timer: NodeJS.Timeout | undefined) => {
    if (!timer) return;
    clearTimeout(timer);
    timers.delete(timer);
  };

  // Simulated loudspeaker: `playheadAt` is when everything handed to it so far has been heard.
  let playheadAt = 0;
  const unfinished: Playout[] = [];
  const current = new Map<string, Playout>();

  const sendStarted = async () => {
    const at = Date.now();
    const ok = await receiver.notifyPlaybackStarted();
    sent.push({ method: RPC_PLAYBACK_STARTED, payload: '', at, ok });
    notify();
  };
  const sendFinished = async (position: number, interrupted: boolean) => {
    const at = Date.now();
    const ok = await receiver.notifyPlaybackFinished(position, interrupted);
    sent.push({ method: RPC_PLAYBACK_FINISHED, payload: playbackFinishedPayload(position, interrupted), at, ok });
    notify();
  };
  const finish = (p: Playout, position: number, interrupted: boolean) => {
    cancel(p.startTimer);
    cancel(p.finishTimer);
    const i = unfinished.indexOf(p);
    if (i >= 0) unfinished.splice(i, 1);
    p.segment.finishedAt = Date.now();
    p.segment.reportedPosition = position;
    p.segment.interrupted = interrupted;
    void sendFinished(position, interrupted);
  };
  const scheduleFinish = (p: Playout) => {
    if (!p.ended || p.finishTimer || !unfinished.includes(p)) return;
    const endsAt = (p.segment.playStartAt ?? Date.now()) + p.receivedS * 1000;
    p.finishTimer = later(Math.max(endsAt, Date.now()) - Date.now() + knobs.finishDelayMs, () => {
      p.finishTimer = undefined;
      finish(p, p.receivedS, false);
    });
  };

  receiver.on('segmentStart', (info) => {
    const segment: ReceivedSegment = { ...info, bytes: 0, pcm: new Int16Array(0), frames: [], cleared: false };
    segments.push(segment);
    const p: Playout = { segment, chunks: [], receivedS: 0, ended: false };
    current.set(info.id, p);
    unfinished.push(p);
    notify();
  });
  receiver.on('frame', (frame, info) => {
    const p = current.get(info.id);
    if (!p) return;
    const now = Date.now();
    p.segment.firstAudioAt ??= now;
    p.segment.frames.push(frame.samplesPerChannel);
    p.segment.bytes += frame.data.byteLength;
    p.chunks.push(frame.data);
    const seconds = frame.samplesPerChannel / frame.sampleRate;
    if (p.segment.playStartAt === undefined) {
      const startAt = Math.max(now, playheadAt);
      p.segment.playStartAt = startAt;
      if (knobs.playbackStarted) p.startTimer = later(startAt - now, () => void sendStarted());
    }
    playheadAt = Math.max(now, playheadAt) + seconds * 1000;
    p.receivedS += seconds;
  });
  receiver.on('segmentEnd', (info) => {
    const p = current.get(info.id);
    if (!p) return;
    current.delete(info.id);
    p.ended = true;
    Object.assign(p.segment, { endedAt: info.endedAt, cleared: info.cleared, ...(info.error ? { error: info.error } : {}) });
    p.segment.pcm = concatPcm(p.chunks);
    if (info.cleared) {
      // Cut off by a clear: finished (interrupted) by the clear if it was under way by then.
      if (unfinished.includes(p)) {
        if (knobs.silent) unfinished.splice(unfinished.indexOf(p), 1);
        else finish(p, 0, true);
      }
    } else {
      scheduleFinish(p);
    }
    notify();
  });
  receiver.on('clear', (info) => {
    clears.push({ at: info.at, callerIdentity: info.callerIdentity, ...(info.arriving ? { arriving: info.arriving.id } : {}) });
    const now = Date.now();
    playheadAt = now;
    for (const p of [...unfinished]) {
      const heard = p.segment.playStartAt === undefined ? 0 : Math.min(p.receivedS, Math.max(0, (now - p.segment.playStartAt) / 1000));
      if (knobs.silent) {
        // Stops playing, but never tells the agent.
        cancel(p.startTimer);
        cancel(p.finishTimer);
        unfinished.splice(unfinished.indexOf(p), 1);
        p.segment.interrupted = true;
        p.segment.reportedPosition = undefined;
      } else {
        finish(p, heard, true);
      }
    }
    notify();
  });
  receiver.on('rejected', (r) => {
    rejected.push(r);
    notify();
  });
  receiver.start();

  // The face: a flat frame that changes shade every frame, cheap to encode.
  const video = opts.video ?? { width: 64, height: 64, fps: 10 };
  let videoSource: VideoSource | undefined;
  let videoTimer: NodeJS.Timeout | undefined;
  let videoPublication: LocalTrackPublication | undefined;
  const publishVideo = async () => {
    if (knobs.neverPublishVideo || !room.isConnected) return;
    videoSource = new VideoSource(video.width, video.height);
    const track = LocalVideoTrack.createVideoTrack(AVATAR_VIDEO_TRACK, videoSource);
    let n = 0;
    const rgba = new Uint8Array(video.width * video.height * 4);
    videoTimer = setInterval(() => {
      rgba.fill(40 + (n++ % 8) * 24);
      videoSource?.captureFrame(new VideoFrame(rgba, video.width, video.height, VideoBufferType.RGBA));
    }, 1000 / video.fps);
    videoPublication = await room.localParticipant!.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_CAMERA, simulcast: false }));
  };
  if (knobs.videoDelayMs > 0) later(knobs.videoDelayMs, () => void publishVideo().catch(() => undefined));
  else await publishVideo();

  let resolveLeft!: (reason: string) => void;
  const left = new Promise<string>((resolve) => (resolveLeft = resolve));
  let leaving: string | undefined;
  const shutDown = async (reason: string) => {
    if (leaving) return;
    leaving = reason;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    clearInterval(videoTimer);
    await receiver.close().catch(() => undefined);
    await room.disconnect().catch(() => undefined);
    resolveLeft(reason);
  };
  room.on(RoomEvent.Disconnected, (reason) => void shutDown(`disconnected (${String(reason)})`));
  if (opts.leaveAfterMs !== undefined) later(opts.leaveAfterMs, () => void shutDown('left by itself'));

  const waitFor = <T>(ready: () => T | undefined, ms: number, what: string): Promise<T> => {
    const first = ready();
    if (first !== undefined) return Promise.resolve(first);
    let wake!: () => void;
    const done = new Promise<T>((resolve) => {
      wake = () => {
        const value = ready();
        if (value !== undefined) resolve(value);
      };
      changed.add(wake);
    });
    return withTimeout(done, ms, `the fake avatar ${identity}: ${what}`).finally(() => changed.delete(wake));
  };
  let clearsSeen = 0;

  return {
    identity,
    room,
    receiver,
    segments,
    clears,
    sent,
    rejected,
    left,
    get knobs() {
      return knobs;
    },
    get videoPublication() {
      return videoPublication;
    },
    setKnobs(patch) {
      Object.assign(knobs, patch);
    },
    waitForSegments(n, ms) {
      return waitFor(() => (segments.filter((s) => s.endedAt !== undefined).length >= n ? segments.filter((s) => s.endedAt !== undefined) : undefined), ms, `${n} segment(s) to end`);
    },
    waitForClear(ms) {
      return waitFor(() => (clears.length > clearsSeen ? clears[clearsSeen++] : undefined), ms, 'a lk.clear_buffer');
    },
    waitForFinished(n, ms) {
      const finished = () => sent.filter((s) => s.method === RPC_PLAYBACK_FINISHED && s.ok);
      return waitFor(() => (finished().length >= n ? finished() : undefined), ms, `${n} lk.playback_finished answered ok`);
    },
    leave: () => shutDown('leave()'),
  };
}

/**
 * The avatar's real room sink (RoomMediaSink) with the room left out: the same AudioSource
 * (paced in real time by its native queue), the same hold-back of each frame by the queued audio,
 * the same VideoSource.captureFrame (RGBA → I420 conversion and copy on the native side) — but
 * "publishing" goes to a stub participant, so nothing is encoded or sent. The VP8 encode and SRTP
 * of a real room are NOT in what this sink costs.
 *
 * Wrapped in a counter that watches the video clock: how late each frame reaches the sink after
 * its due time, and how many ticks came without a frame (the ticker drops frames it is too late
 * to draw). Counters only, so it costs no memory over a long run.
 */
import type { LocalTrackPublication, Room, RpcInvocationData } from '@livekit/rtc-node';
import { CLIENT_AVATAR_VERSION, readClientAvatarSpec, RPC_CLIENT_READY, type ClientReady } from '../../src/avatar/client/protocol.js';
import type { Logger } from 'pino';
import type { RgbaFrame } from '../../src/avatar/frames/frame-source.js';
import type { AvatarMediaSink, MediaFormat } from '../../src/avatar/local/media-sink.js';
import { RoomMediaSink } from '../../src/avatar/local/room-sink.js';

/** A frame this late after its due time counts as late: a full tick at 25 fps. */
export const LATE_FRAME_MS = 40;

export interface FrameCounts {
  ticks: number;
  frames: number;
  /** Ticks whose frame was never drawn (the process was starved and caught up). */
  dropped: number;
  /** Frames handed over more than LATE_FRAME_MS after their due time. */
  late: number;
  /** Worst lateness seen, ms. */
  worstLateMs: number;
}

/**
 * Just enough of a Room for RoomMediaSink and for a `client` avatar's voice track (agents'
 * ParticipantAudioOutput, paced by its own AudioSource): a participant that accepts tracks and
 * sends them nowhere, whose track is "subscribed" at once. `viewer`: a page that draws client
 * avatars, answering `avatar.client.ready` when the agent's attributes name one, as our page does.
 */
export function stubRoom(opts: { viewer?: boolean } = {}): Room {
  const rpc = new Map<string, (data: RpcInvocationData) => Promise<string>>();
  const participant = {
    identity: 'agent-bench',
    publishTrack: async () => ({ sid: undefined, waitForSubscription: async () => undefined }) as unknown as LocalTrackPublication,
    unpublishTrack: async () => undefined,
    registerRpcMethod: (method: string, handler: (data: RpcInvocationData) => Promise<string>) => rpc.set(method, handler),
    unregisterRpcMethod: (method: string) => rpc.delete(method),
    setAttributes: async (attributes: Record<string, string>) => {
      const spec = opts.viewer ? readClientAvatarSpec(attributes) : undefined;
      if (!spec) return;
      const ready: ClientReady = { v: CLIENT_AVATAR_VERSION, profile: spec.profile, renderers: [spec.renderer] };
      const data = { requestId: 'bench', callerIdentity: 'viewer-bench', payload: JSON.stringify(ready), responseTimeout: 10_000 };
      setTimeout(() => void rpc.get(RPC_CLIENT_READY)?.(data), 50);
    },
  };
  return { localParticipant: participant, remoteParticipants: new Map(), isConnected: false, on: () => undefined, off: () => undefined } as unknown as Room;
}

export class RoomlessSink implements AvatarMediaSink {
  private readonly inner: RoomMediaSink;
  private startedAt = 0;
  readonly counts: FrameCounts = { ticks: 0, frames: 0, dropped: 0, late: 0, worstLateMs: 0 };

  constructor(logger: Logger) {
    this.inner = new RoomMediaSink(stubRoom(), logger);
  }

  async start(format: MediaFormat): Promise<void> {
    await this.inner.start(format);
    // The avatar output starts its ticker right after this resolves: tick k is due k/fps later.
    this.startedAt = performance.now();
  }

  pushAudio(pcm: Int16Array, speech: boolean): void {
    this.counts.ticks++;
    this.inner.pushAudio(pcm, speech);
  }

  pushVideo(frame: RgbaFrame, timeMs: number): void {
    const c = this.counts;
    c.frames++;
    c.dropped = c.ticks - c.frames;
    const lateMs = performance.now() - this.startedAt - timeMs;
    if (lateMs > LATE_FRAME_MS) c.late++;
    if (lateMs > c.worstLateMs) c.worstLateMs = lateMs;
    this.inner.pushVideo(frame, timeMs);
  }

  clearAudio(): void {
    this.inner.clearAudio();
  }

  queuedAudioMs(): number {
    return this.inner.queuedAudioMs();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

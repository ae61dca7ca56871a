import { RoomEvent, TrackKind, type RemoteParticipant, type RemoteTrackPublication, type Room } from '@livekit/rtc-node';

export interface AvatarArrival {
  /** Date.now() when the avatar participant was first seen in the room. */
  joinedAt: number;
  /** Date.now() when its video track was published. */
  videoAt: number;
}

/**
 * Resolves when `identity` is in the room with a published video track (with `video: false`, as
 * soon as it is in the room); `onJoined` is told when it is first seen in the room (before its
 * video). Rejects only when `signal` aborts (the caller owns the deadlines).
 */
export function waitForAvatarVideo(room: Room, identity: string, signal: AbortSignal, onJoined?: (at: number) => void, opts: { video?: boolean } = {}): Promise<AvatarArrival> {
  const needVideo = opts.video ?? true;
  return new Promise((resolve, reject) => {
    let joinedAt = 0;
    const seen = () => {
      if (joinedAt) return;
      joinedAt = Date.now();
      onJoined?.(joinedAt);
    };
    const hasVideo = (p: RemoteParticipant | undefined) => !needVideo || [...(p?.trackPublications.values() ?? [])].some((t) => t.kind === TrackKind.KIND_VIDEO);
    const cleanup = () => {
      room.off(RoomEvent.ParticipantConnected, onJoin);
      room.off(RoomEvent.TrackPublished, onPublish);
      signal.removeEventListener('abort', onAbort);
    };
    const done = () => {
      cleanup();
      const now = Date.now();
      resolve({ joinedAt: joinedAt || now, videoAt: now });
    };
    const onJoin = (p: RemoteParticipant) => {
      if (p.identity !== identity) return;
      seen();
      if (hasVideo(p)) done();
    };
    const onPublish = (pub: RemoteTrackPublication, p: RemoteParticipant) => {
      if (p.identity !== identity) return;
      seen();
      if (pub.kind === TrackKind.KIND_VIDEO) done();
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted')));
    };
    if (signal.aborted) return onAbort();
    room.on(RoomEvent.ParticipantConnected, onJoin);
    room.on(RoomEvent.TrackPublished, onPublish);
    signal.addEventListener('abort', onAbort, { once: true });
    const present = room.remoteParticipants.get(identity);
    if (present) {
      seen();
      if (hasVideo(present)) done();
    }
  });
}

/**
 * Resolves with a reason when the avatar leaves the room or takes its video down; `stop()` ends
 * the watch without resolving.
 */
export function watchAvatarPresence(room: Room, identity: string): { gone: Promise<string>; stop(): void } {
  let stop = () => {};
  const gone = new Promise<string>((resolve) => {
    const onLeave = (p: RemoteParticipant) => {
      if (p.identity === identity) finish('the avatar participant left the room');
    };
    const onUnpublish = (pub: RemoteTrackPublication, p: RemoteParticipant) => {
      if (p.identity !== identity || pub.kind !== TrackKind.KIND_VIDEO) return;
      // A participant that leaves unpublishes first: give the departure a moment to say so.
      unpublishTimer ??= setTimeout(() => finish('the avatar stopped publishing video'), 500);
    };
    let unpublishTimer: NodeJS.Timeout | undefined;
    const off = () => {
      if (unpublishTimer) clearTimeout(unpublishTimer);
      room.off(RoomEvent.ParticipantDisconnected, onLeave);
      room.off(RoomEvent.TrackUnpublished, onUnpublish);
    };
    const finish = (reason: string) => {
      off();
      resolve(reason);
    };
    stop = off;
    room.on(RoomEvent.ParticipantDisconnected, onLeave);
    room.on(RoomEvent.TrackUnpublished, onUnpublish);
  });
  return { gone, stop: () => stop() };
}

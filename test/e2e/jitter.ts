/**
 * How long the transport's jitter buffers held each track: the test server's receiving side (its
 * publisher connection) and the viewer's (an rtc-node Room), from their inbound-rtp statistics.
 * A jitter buffer grows with the arrival jitter of its sender's packets, so two senders on the
 * same machine see different delays when one of them is starved of CPU: this is what the
 * reference publisher's own paths cannot show about the avatar's.
 */
import type { Room } from '@livekit/rtc-node';
import type { TestLiveKitServer } from '../livekit-server/index.js';

/** Cumulative jitter-buffer totals of one track: seconds held, summed over what was emitted. */
interface Held {
  delayS: number;
  emitted: number;
}

/** Per track name: the server's and the viewer's totals at one moment. */
export type JitterSnapshot = Map<string, { server?: Held; viewer?: Held }>;

export async function jitterSnapshot(server: TestLiveKitServer, roomName: string, publishers: string[], viewer: Room): Promise<JitterSnapshot> {
  const snapshot: JitterSnapshot = new Map();
  const byForwardedId = new Map<string, string>();
  for (const identity of publishers) {
    for (const t of await server.inboundStats(roomName, identity)) {
      snapshot.set(t.name, { server: { delayS: t.jitterBufferDelay, emitted: t.jitterBufferEmittedCount } });
      byForwardedId.set(t.forwardedTrackId, t.name);
    }
  }
  const { subscriberStats } = await viewer.getRtcStats();
  for (const s of subscriberStats) {
    if (s.stats.case !== 'inboundRtp') continue;
    const inbound = s.stats.value.inbound;
    const name = byForwardedId.get(inbound?.trackIdentifier ?? '');
    const entry = name === undefined ? undefined : snapshot.get(name);
    if (entry && inbound) entry.viewer = { delayS: inbound.jitterBufferDelay ?? 0, emitted: Number(inbound.jitterBufferEmittedCount ?? 0n) };
  }
  return snapshot;
}

/**
 * The mean time a track's media sat in the jitter buffers between two snapshots, in ms: the
 * server's plus the viewer's (either is 0 when it emitted nothing in between).
 */
export function meanHeldMs(before: JitterSnapshot, after: JitterSnapshot, track: string): { server: number; viewer: number; total: number } {
  const mean = (a: Held | undefined, b: Held | undefined) => (a && b && b.emitted > a.emitted ? ((b.delayS - a.delayS) / (b.emitted - a.emitted)) * 1000 : 0);
  const server = mean(before.get(track)?.server, after.get(track)?.server);
  const viewer = mean(before.get(track)?.viewer, after.get(track)?.viewer);
  return { server, viewer, total: server + viewer };
}

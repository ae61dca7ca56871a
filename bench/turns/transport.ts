/**
 * The test server's own transport, measured in the same run: two rtc-node participants in a room
 * of their own click at each other (a 30 ms 1 kHz burst on a paced microphone) and time the
 * click from the sender's capture to the receiver's first loud frame. That is what the server and
 * two clients add to any audio, whoever sends it: the user's words on the way to the agent, and
 * the reply on the way back. Subtracting it reads a room figure as "what LiveKit itself would add".
 */
import { PacedAudio, RoomEvent, connectClient, waitUntil } from '../../test/livekit-server/testing.js';
import { recordAudio, type ReceivedAudioFrame, type Recorder } from '../../test/e2e/viewer.js';
import type { TestLiveKitServer } from '../../test/livekit-server/index.js';
import type { RemoteTrack } from '@livekit/rtc-node';
import { median } from '../../test/e2e/signals.js';

export interface TransportMs {
  /** Sender capture → receiver's first loud frame, medians over the clicks. */
  userToAgent: number;
  agentToUser: number;
  samples: { userToAgent: number[]; agentToUser: number[] };
}

const CLICK_RMS = 2_000;

export async function measureTransport(server: TestLiveKitServer, clicks = 8): Promise<TransportMs> {
  const room = `bench-transport-${Date.now()}`;
  const a = await connectClient(server, { identity: 'probe-user', room });
  const b = await connectClient(server, { identity: 'probe-agent', room });
  const heard = new Map<string, Recorder<ReceivedAudioFrame>>();
  for (const c of [a, b]) {
    c.room.on(RoomEvent.TrackSubscribed, (track) => {
      if (!heard.has(c.identity)) heard.set(c.identity, recordAudio(track as RemoteTrack));
    });
  }
  const micA = new PacedAudio();
  const micB = new PacedAudio();
  try {
    await micA.publish(a.room);
    await micB.publish(b.room);
    await waitUntil(() => heard.size === 2, 15_000, 'the two transport probes to hear each other');
    const one = async (from: PacedAudio, to: string): Promise<number> => {
      const recorder = heard.get(to)!;
      const sentAt = await from.click();
      await waitUntil(() => recorder.frames.some((f) => f.at >= sentAt && f.rms > CLICK_RMS), 5_000, `a transport click to reach ${to}`);
      const arrived = recorder.frames.find((f) => f.at >= sentAt && f.rms > CLICK_RMS)!.at;
      // Let the burst pass before the next one.
      await new Promise((r) => setTimeout(r, 250));
      return arrived - sentAt;
    };
    // A few clicks first: the first packets of a track set up the receiver's jitter buffer.
    for (let i = 0; i < 2; i++) {
      await one(micA, 'probe-agent');
      await one(micB, 'probe-user');
    }
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < clicks; i++) {
      up.push(await one(micA, 'probe-agent'));
      down.push(await one(micB, 'probe-user'));
    }
    return { userToAgent: Math.round(median(up)), agentToUser: Math.round(median(down)), samples: { userToAgent: up, agentToUser: down } };
  } finally {
    for (const r of heard.values()) await r.stop();
    await micA.stop();
    await micB.stop();
    await a.room.disconnect();
    await b.room.disconnect();
  }
}

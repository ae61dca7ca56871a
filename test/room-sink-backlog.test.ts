/**
 * A long call on a busy machine: each stall leaves audio waiting in RoomMediaSink's chain (the
 * source takes only ~200 ms), heard that much later, with every video frame held (copied, 1 MB
 * at 512²) for as long. Speech must wait its turn, but the silence between replies need not: if
 * it is chained behind the backlog too, the backlog never drains, and each stall adds to the
 * reply latency (and the held frames) for the rest of the call (measured by bench/long-call.ts:
 * 3.6 s → 13 s over ten minutes at load 28).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MAX_VIDEO_HOLD_MS, RoomMediaSink } from '../src/avatar/local/room-sink.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, sleep } from './livekit-server/testing.js';

let server: TestLiveKitServer;
beforeAll(async () => {
  server = await startTestLiveKitServer();
});
afterAll(async () => {
  await server?.close();
});

describe('RoomMediaSink after a stall', () => {
  it('drains the backlog during silence instead of chaining the silence behind it', async () => {
    const publisher = await connectClient(server, { identity: 'sink', room: 'sink-backlog' });
    const sink = new RoomMediaSink(publisher.room, pino({ level: 'silent' }));
    await sink.start({ width: 64, height: 64, fps: 25, sampleRate: 24_000 });
    const tick = () => new Int16Array(960); // 40 ms at 24 kHz
    const picture = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 4) };
    try {
      // A 1.2 s stall in the middle of a reply: 30 ticks of speech come due at once.
      for (let k = 0; k < 30; k++) sink.pushAudio(tick(), true);
      expect(sink.queuedAudioMs()).toBeGreaterThan(1_000);
      // Then the reply is over: the avatar idles in real time, silence every 40 ms.
      const lowest: number[] = [];
      for (let t = 0; t < 2_000; t += 40) {
        sink.pushAudio(tick(), false);
        sink.pushVideo(picture, t);
        lowest.push(sink.queuedAudioMs());
        await sleep(40);
      }
      // Played out in real time, the 1.2 s are gone after ~1 s of idling; what is left is at most
      // the source's own queue. Chained silence would keep it at ~1.2 s.
      expect(Math.min(...lowest.slice(-10)), `queued audio (ms) over the last 400 ms of idling: ${lowest.slice(-10).map(Math.round).join(', ')}`).toBeLessThan(300);
    } finally {
      await sink.close();
      await publisher.room.disconnect();
    }
  });

  it(`holds video frames for their audio at most ${MAX_VIDEO_HOLD_MS} ms: a longer backlog does not pile up copies`, async () => {
    const publisher = await connectClient(server, { identity: 'sink-hold', room: 'sink-hold' });
    const sink = new RoomMediaSink(publisher.room, pino({ level: 'silent' }));
    await sink.start({ width: 64, height: 64, fps: 25, sampleRate: 24_000 });
    const picture = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 4) };
    try {
      // A 6 s stall: 150 ticks due at once, each its 40 ms of speech and its frame.
      for (let k = 0; k < 150; k++) {
        sink.pushAudio(new Int16Array(960), true);
        sink.pushVideo(picture, k * 40);
      }
      // Held: only the frames whose audio plays within the bound (~2 s of 6); the rest dropped.
      expect(sink.heldFrames).toBeLessThanOrEqual((MAX_VIDEO_HOLD_MS / 40) + 1);
      expect(sink.droppedLate).toBeGreaterThan(90);
    } finally {
      await sink.close();
      await publisher.room.disconnect();
    }
  });
});

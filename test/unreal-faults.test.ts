/**
 * Faults of the Unreal bridge: what a user would notice is that the call never ends and never
 * hangs. At attach a fault is a clear Error (the registry falls back to the next avatar); during
 * a call the bridge reconnects, and when it cannot, the handle's `lost` says why.
 */
import { initializeLogger } from '@livekit/agents';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCodeFromLuma } from './fakes/pixel-streaming/index.js';
import { FakeStreamer } from './fakes/pixel-streaming/streamer.js';
import { waitFor, withTimeout } from './fakes/wait.js';
import { attach, makeProfile, speak, startRig, toneBursts, type Rig } from './fakes/pixel-streaming/rig.js';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

let rig: Rig | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await rig?.close();
  rig = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** attach's rejection, and how long it took. */
async function attachFails(profile: Parameters<typeof attach>[0]): Promise<{ message: string; ms: number }> {
  const t0 = Date.now();
  const err = await attach(profile).then(
    (a) => {
      void a.handle.close();
      throw new Error('attach succeeded');
    },
    (e: Error) => e,
  );
  return { message: err.message, ms: Date.now() - t0 };
}

/** Frames in the sink after `since` (wall clock) whose code reads back. */
function liveFrames(a: Awaited<ReturnType<typeof attach>>, since: number) {
  return a.sink.frames.filter((f) => f.wallMs > since && readCodeFromLuma(f.luma, 640, a.sink.thumbnailScale));
}

describe('unreal bridge faults at attach (the registry falls back)', () => {
  it('signalling down: fails fast, naming the server and the fix, without leaking credentials', async () => {
    rig = await startRig({ startStreamer: false });
    const url = rig.signalling.playerUrl;
    await rig.signalling.stop();
    const { message, ms } = await attachFails(makeProfile(`${url}/?token=s3cret-token`));
    expect(message).toMatch(/cannot reach the Pixel Streaming signalling server at ws:\/\/127\.0\.0\.1:\d+/);
    expect(message).toMatch(/start the SignallingWebServer or fix signallingUrl/);
    expect(message).not.toContain('s3cret');
    expect(ms).toBeLessThan(3000);
  });

  it('signalling refuses the WebSocket, or never answers it', async () => {
    rig = await startRig({ startStreamer: false });
    rig.signalling.playerKnobs.set({ fault: 'http500' });
    expect((await attachFails(rig.profile)).message).toMatch(/refused the WebSocket \(HTTP 500\)/);
    rig.signalling.playerKnobs.set({ fault: 'hang' });
    const hung = await attachFails(makeProfile(rig.signalling.playerUrl, { connectTimeoutMs: 1500 }));
    expect(hung.message).toMatch(/Pixel Streaming signalling server/);
    expect(hung.ms).toBeLessThan(4000);
  });

  it('no streamer, or not the one named', async () => {
    rig = await startRig({ startStreamer: false });
    expect((await attachFails(rig.profile)).message).toMatch(/no streamer is connected .*-PixelStreamingURL=ws:\/\/<signalling host>:8888/);
    await rig.streamer.start();
    const wrong = await attachFails(makeProfile(rig.signalling.playerUrl, { streamerId: 'MetaHuman2' }));
    expect(wrong.message).toContain('no streamer "MetaHuman2"');
    expect(wrong.message).toContain('streaming: DefaultStreamer');
  });

  it('the streamer never offers', async () => {
    rig = await startRig({ streamer: { offer: 'never' } });
    const { message, ms } = await attachFails(makeProfile(rig.signalling.playerUrl, { connectTimeoutMs: 2000 }));
    expect(message).toMatch(/never offered a stream/);
    expect(ms).toBeLessThan(5000);
  });

  it('ICE cannot connect', async () => {
    rig = await startRig({ streamer: { offer: 'badIce' } });
    const { message, ms } = await attachFails(makeProfile(rig.signalling.playerUrl, { connectTimeoutMs: 3000 }));
    expect(message).toMatch(/WebRTC connection to streamer DefaultStreamer (did not connect|failed)/);
    expect(message).toMatch(/STUN\/TURN|TURN server/);
    expect(ms).toBeLessThan(6000);
  });

  it('Unreal streams H.264 only (the engine cannot decode it): the fix is named', async () => {
    rig = await startRig({ streamer: { offer: 'h264' } });
    expect((await attachFails(rig.profile)).message).toMatch(/-PixelStreamingEncoderCodec=VP8/);
  });
});

describe('unreal bridge faults mid-call', () => {
  for (const mode of ['close', 'notify'] as const) {
    it(`the streamer leaves and comes back (${mode === 'close' ? "the server drops the player, as Epic's does" : 'streamerDisconnected'}): reconnects`, async () => {
      rig = await startRig({ signalling: { onStreamerLeave: mode } });
      const a = await attach(rig.profile);
      cleanups.push(() => a.handle.close());
      let lost: string | undefined;
      void a.handle.lost!.then((r) => (lost = r));
      await sleep(500);
      await rig.streamer.leave();
      await sleep(300);
      const back = new FakeStreamer({ signallingUrl: rig.signalling.streamerUrl });
      cleanups.push(() => back.close());
      await back.start();
      const since = Date.now();
      await waitFor(() => liveFrames(a, since).length > 10, 10_000, 'frames from the restarted streamer');
      expect(lost).toBeUndefined();
      expect(back.playerIds).toHaveLength(1);
    }, 30_000);
  }

  it('signalling goes down and comes back: reconnects', async () => {
    rig = await startRig({ profile: { reconnect: { attempts: 4, delayMs: 300, maxDelayMs: 600 } } });
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(500);
    await rig.signalling.stop();
    await sleep(400);
    await rig.signalling.restart();
    await rig.streamer.leave(); // Unreal reconnects to signalling on its own; the fake does it here
    const again = new FakeStreamer({ signallingUrl: rig.signalling.streamerUrl });
    cleanups.push(() => again.close());
    await again.start();
    const since = Date.now();
    await waitFor(() => liveFrames(a, since).length > 10, 10_000, 'frames after signalling came back');
  }, 30_000);

  it('video freezes on a live connection: the watchdog notices and reconnects', async () => {
    rig = await startRig();
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(500);
    const frozenAt = Date.now();
    rig.streamer.freezeVideo();
    await waitFor(() => rig!.signalling.messages('subscribe', 'player').length >= 2, 8000, 'a new subscription');
    // stallTimeoutMs is 1.5 s, the first retry 0.2 s later.
    expect(Date.now() - frozenAt).toBeGreaterThan(1400);
    expect(Date.now() - frozenAt).toBeLessThan(5000);
    rig.streamer.freezeVideo(false);
    const since = Date.now();
    await waitFor(() => liveFrames(a, since).length > 10, 10_000, 'frames after the reconnect');
  }, 30_000);

  it('the peer connection dies without a word on signalling: reconnects', async () => {
    rig = await startRig();
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(500);
    rig.streamer.dropPeers();
    await waitFor(() => rig!.signalling.messages('subscribe', 'player').length >= 2, 8000, 'a new subscription');
    const since = Date.now();
    await waitFor(() => liveFrames(a, since).length > 10, 10_000, 'frames after the reconnect');
  }, 30_000);

  it('the streamer is gone for good: `lost` resolves with the reason, and the voice goes on meanwhile', async () => {
    rig = await startRig({ profile: { reconnect: { attempts: 2, delayMs: 200, maxDelayMs: 400 }, connectTimeoutMs: 1500 } });
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(300);
    const lost = a.handle.lost!;
    await rig.streamer.leave();
    // The conversation does not wait for Unreal: a reply still plays out (to the listener) while retrying.
    await speak(a.output, toneBursts(1, 500, 0));
    await withTimeout(a.output.waitForPlayout(), 5000, 'playout while Unreal is gone');
    expect(a.finished).toEqual([{ playbackPosition: 0.5, interrupted: false }]);
    const reason = await withTimeout(lost, 15_000, 'lost');
    expect(reason).toMatch(/Unreal stream lost \(.*\); 2 reconnect attempts failed, the last with: .*no streamer is connected/);
  }, 30_000);
});

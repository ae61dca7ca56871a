/**
 * The avatar's end of LiveKit's DataStream avatar protocol, against the real sender: agents'
 * `voice.DataStreamAudioOutput` in an rtc-node Room streams speech over the test server to the fake
 * avatar participant (test/fakes/avatar-participant.ts), which is built on our receiver.
 */
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose, Room, TrackKind } from '@livekit/rtc-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISH_ON_BEHALF_ATTRIBUTE, RPC_PLAYBACK_FINISHED, RPC_PLAYBACK_STARTED } from '../src/avatar/runner/protocol.js';
import { startFakeAvatar, type FakeAvatarOptions, type FakeAvatarParticipant } from './fakes/avatar-participant.js';
import { synthesize } from './fakes/speech.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { nextEvent, RoomEvent, sleep, withTimeout } from './livekit-server/testing.js';

const RATE = 24_000;
let server: TestLiveKitServer;
let roomCount = 0;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await server?.close();
  await dispose();
});

interface Call {
  agent: Room;
  avatar: FakeAvatarParticipant;
  output: voice.DataStreamAudioOutput;
  started: number[];
  finished: { playbackPosition: number; interrupted: boolean; at: number }[];
}

/** A fresh room with an agent (DataStreamAudioOutput) and a fake avatar speaking for it. */
async function call(knobs: Omit<FakeAvatarOptions, 'url' | 'token'> = {}, output: { waitPlaybackStart?: boolean; waitVideo?: boolean } = {}): Promise<Call> {
  const room = `ds-${++roomCount}`;
  const avatarIdentity = `fake-avatar-${roomCount}`;
  const agent = new Room();
  await agent.connect(server.url, await server.token({ identity: 'agent', room, kind: 'agent' }), { autoSubscribe: false, dynacast: false });
  cleanups.push(() => agent.disconnect());
  // agents-js registers its playback RPC handlers once per PROCESS (static flags), on the first
  // room that asks; every later Room in this test process would never get the methods. Reset the
  // flags so this room's output registers them on its own participant.
  voice.DataStreamAudioOutput._playbackFinishedRpcRegistered = false;
  voice.DataStreamAudioOutput._playbackStartedRpcRegistered = false;
  const out = new voice.DataStreamAudioOutput({
    room: agent,
    destinationIdentity: avatarIdentity,
    sampleRate: RATE,
    ...(output.waitPlaybackStart ? { waitPlaybackStart: true } : {}),
    ...(output.waitVideo ? { waitRemoteTrack: TrackKind.KIND_VIDEO } : {}),
  });
  const started: number[] = [];
  const finished: Call['finished'] = [];
  out.on('playbackStarted', () => started.push(Date.now()));
  out.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => finished.push({ ...ev, at: Date.now() }));
  const token = await server.token({ identity: avatarIdentity, room, kind: 'agent', attributes: { [PUBLISH_ON_BEHALF_ATTRIBUTE]: 'agent' } });
  const avatar = await startFakeAvatar({ url: server.url, token, ...knobs });
  cleanups.push(() => avatar.leave());
  return { agent, avatar, output: out, started, finished };
}

/** Hands speech to the output as AgentSession does: 20 ms frames, faster than real time, then flush. */
async function speak(output: voice.AudioOutput, samples: Int16Array, opts: { flush?: boolean; stopAfterS?: number } = {}): Promise<void> {
  const step = RATE / 50;
  const stopAt = opts.stopAfterS !== undefined ? Math.round(opts.stopAfterS * RATE) : samples.length;
  for (let at = 0; at < Math.min(samples.length, stopAt); at += step) {
    const piece = samples.slice(at, Math.min(samples.length, at + step));
    await output.captureFrame(new AudioFrame(piece, RATE, 1, piece.length));
  }
  if (opts.flush ?? true) output.flush();
}

async function speech(text = 'The quick brown fox jumps over the lazy dog.'): Promise<Int16Array> {
  return (await synthesize(text, { sampleRate: RATE })).samples;
}

describe('DataStream avatar protocol: agents DataStreamAudioOutput → our receiver (fake avatar)', () => {
  it('speech arrives byte for byte with its attributes, in fixed 20 ms frames, and playback_finished comes when it would have played out', async () => {
    const c = await call();
    const samples = await speech();
    const seconds = samples.length / RATE;
    const t0 = Date.now();
    await speak(c.output, samples);
    const [segment] = await c.avatar.waitForSegments(1, 10_000);
    const playout = await withTimeout(c.output.waitForPlayout(), 15_000, 'waitForPlayout');
    const elapsed = Date.now() - t0;

    expect(segment!.sender).toBe('agent');
    expect(segment!.sampleRate).toBe(RATE);
    expect(segment!.channels).toBe(1);
    expect(segment!.attributes).toMatchObject({ sample_rate: String(RATE), num_channels: '1' });
    expect(segment!.cleared).toBe(false);
    expect(Buffer.from(segment!.pcm.buffer).equals(Buffer.from(samples.buffer))).toBe(true);
    // Re-chunked to 20 ms frames whatever the transport's chunking; only the last may be shorter.
    expect(segment!.frames.slice(0, -1).every((n) => n === RATE / 50)).toBe(true);
    expect(segment!.frames.at(-1)).toBeLessThanOrEqual(RATE / 50);

    expect(playout).toMatchObject({ interrupted: false });
    expect(playout.playbackPosition).toBeCloseTo(seconds, 2);
    expect(c.finished).toHaveLength(1);
    // The avatar played it out in real time: the agent heard "finished" no sooner than the speech lasts.
    expect(elapsed).toBeGreaterThanOrEqual(seconds * 1000 - 50);
    expect(elapsed).toBeLessThan(seconds * 1000 + 3_000);
    process.stdout.write(`segment of ${seconds.toFixed(2)} s: playback_finished at the agent ${(c.finished[0]!.at - t0 - seconds * 1000).toFixed(0)} ms after its real-time end\n`);
  });

  it('two segments in a row play one after the other, each reported finished once', async () => {
    const c = await call();
    const first = await speech('Hello there.');
    const second = await speech('How are you today?');
    await speak(c.output, first);
    // agents-js 1.9's flush() closes the byte stream asynchronously and forgets the writer only
    // once that resolves: a captureFrame in the same tick writes to the closing stream and throws
    // (an upstream race; AgentSession's next reply comes later than that in practice).
    await sleep(100);
    await speak(c.output, second);
    const segments = await c.avatar.waitForSegments(2, 10_000);
    await withTimeout(c.output.waitForPlayout(), 15_000, 'waitForPlayout');
    expect(segments.map((s) => s.pcm.length)).toEqual([first.length, second.length]);
    expect(c.finished.map((f) => f.interrupted)).toEqual([false, false]);
    expect(c.finished[0]!.playbackPosition).toBeCloseTo(first.length / RATE, 2);
    expect(c.finished[1]!.playbackPosition).toBeCloseTo(second.length / RATE, 2);
    // The second starts playing when the first has ended.
    expect(segments[1]!.playStartAt! - segments[0]!.playStartAt!).toBeGreaterThanOrEqual((first.length / RATE) * 1000 - 50);
  });

  it('lk.clear_buffer interrupts: playback_finished {interrupted} with the seconds heard, quickly', async () => {
    const c = await call();
    const samples = await speech('This is a rather long answer that the user is going to interrupt half way through, so it never finishes.');
    const seconds = samples.length / RATE;
    await speak(c.output, samples);
    await c.avatar.waitForSegments(1, 10_000);
    await sleep(1_000);
    const clearedAt = Date.now();
    c.output.clearBuffer();
    const playout = await withTimeout(c.output.waitForPlayout(), 5_000, 'waitForPlayout after clearBuffer');
    const tookMs = Date.now() - clearedAt;
    const clear = await c.avatar.waitForClear(2_000);

    expect(clear.callerIdentity).toBe('agent');
    expect(playout.interrupted).toBe(true);
    // About the second it had played, far from the whole reply.
    expect(playout.playbackPosition).toBeGreaterThan(0.5);
    expect(playout.playbackPosition).toBeLessThan(Math.min(seconds - 1, 3));
    expect(tookMs).toBeLessThan(1_500);
    expect(c.finished).toHaveLength(1);
    process.stdout.write(`clear_buffer → interrupted playback_finished at the agent in ${tookMs} ms (position ${playout.playbackPosition.toFixed(2)} s)\n`);
  });

  it('a clear while a segment is still arriving drops its rest and ends it as cleared', async () => {
    const c = await call();
    const samples = await speech('Another long answer, streamed slowly, that gets cut off.');
    // Half the reply, then the interruption, without a flush: the stream is still open.
    await speak(c.output, samples, { flush: false, stopAfterS: 1 });
    await withTimeout(
      (async () => {
        while (!c.avatar.segments[0]?.firstAudioAt) await sleep(10);
      })(),
      5_000,
      'the first audio at the avatar',
    );
    c.output.clearBuffer();
    const clear = await c.avatar.waitForClear(5_000);
    expect(clear.arriving).toBe(c.avatar.segments[0]!.id);
    const playout = await withTimeout(c.output.waitForPlayout(), 5_000, 'waitForPlayout');
    expect(playout.interrupted).toBe(true);
    // AgentSession flushes after clearing; the avatar reports the segment once, not twice.
    c.output.flush();
    const [segment] = await c.avatar.waitForSegments(1, 5_000);
    expect(segment!.cleared).toBe(true);
    await sleep(300);
    expect(c.finished).toHaveLength(1);
    expect(c.avatar.sent.filter((s) => s.method === RPC_PLAYBACK_FINISHED)).toHaveLength(1);
  });

  it('a segment that opened behind another and was cleared before it began still ends (cleared, empty) and is reported', async () => {
    const c = await call();
    const attributes = { sample_rate: String(RATE), num_channels: '1' };
    const to = [c.avatar.identity];
    // Raw streams, as a sender that opens the next segment before the last has closed would send them.
    const a = await c.agent.localParticipant!.streamBytes({ topic: 'lk.audio_stream', destinationIdentities: to, attributes });
    await a.write(new Uint8Array(RATE * 2));
    const b = await c.agent.localParticipant!.streamBytes({ topic: 'lk.audio_stream', destinationIdentities: to, attributes });
    await b.write(new Uint8Array(RATE * 2));
    await withTimeout(
      (async () => {
        while (!c.avatar.segments[0]?.firstAudioAt) await sleep(10);
      })(),
      5_000,
      'the first audio at the avatar',
    );
    expect(await c.agent.localParticipant!.performRpc({ destinationIdentity: c.avatar.identity, method: 'lk.clear_buffer', payload: '' })).toBe('ok');
    await a.close();
    await b.close();
    const segments = await c.avatar.waitForSegments(2, 5_000);
    expect(segments.map((s) => ({ cleared: s.cleared, empty: s.bytes === 0 }))).toEqual([
      { cleared: true, empty: false },
      { cleared: true, empty: true },
    ]);
    await withTimeout(
      (async () => {
        while (c.avatar.sent.filter((s) => s.method === RPC_PLAYBACK_FINISHED).length < 2) await sleep(10);
      })(),
      5_000,
      'two playback_finished',
    );
    expect(c.avatar.sent.filter((s) => s.method === RPC_PLAYBACK_FINISHED).map((s) => JSON.parse(s.payload).interrupted)).toEqual([true, true]);
  });

  it('sends lk.playback_started when the agent waits for it (waitPlaybackStart)', async () => {
    const c = await call({}, { waitPlaybackStart: true });
    const t0 = Date.now();
    await speak(c.output, await speech('Hi.'));
    await withTimeout(c.output.waitForPlayout(), 10_000, 'waitForPlayout');
    expect(c.started).toHaveLength(1);
    expect(c.started[0]! - t0).toBeLessThan(2_000);
    expect(c.avatar.sent.find((s) => s.method === RPC_PLAYBACK_STARTED)?.ok).toBe(true);
  });

  it('knob playbackStarted=false: the agent that waits for it never hears playback start', async () => {
    const c = await call({ playbackStarted: false }, { waitPlaybackStart: true });
    await speak(c.output, await speech('Hi.'));
    await withTimeout(c.output.waitForPlayout(), 10_000, 'waitForPlayout');
    expect(c.started).toHaveLength(0);
  });

  it('knob silent: after a clear the avatar never reports, and agents-js waits for ever (no timeout in 1.9)', async () => {
    const c = await call({ silent: true });
    await speak(c.output, await speech('Something long enough to be interrupted in the middle.'));
    await c.avatar.waitForSegments(1, 10_000);
    await sleep(300);
    c.output.clearBuffer();
    await c.avatar.waitForClear(5_000);
    const stalled = await withTimeout(c.output.waitForPlayout(), 1_500, 'playout').then(
      () => false,
      () => true,
    );
    expect(stalled).toBe(true);
    expect(c.finished).toHaveLength(0);
  });

  it('rejects a stream without sample_rate / num_channels, clearly, and keeps serving', async () => {
    const c = await call();
    const bad = await c.agent.localParticipant!.streamBytes({ topic: 'lk.audio_stream', destinationIdentities: [c.avatar.identity], attributes: { num_channels: '1' } });
    await bad.write(new Uint8Array(960));
    await bad.close();
    await withTimeout(
      (async () => {
        while (c.avatar.rejected.length === 0) await sleep(10);
      })(),
      5_000,
      'the rejection',
    );
    expect(c.avatar.rejected[0]!.reason).toMatch(/sample_rate.*missing/);
    expect(c.avatar.segments).toHaveLength(0);

    const samples = await speech('Still here.');
    await speak(c.output, samples);
    const [segment] = await c.avatar.waitForSegments(1, 10_000);
    expect(segment!.pcm.length).toBe(samples.length);
  });

  it('with senderIdentity set, refuses speech from anyone else', async () => {
    const c = await call({ senderIdentity: 'someone-else' });
    await speak(c.output, await speech('Hi.'));
    await withTimeout(
      (async () => {
        while (c.avatar.rejected.length === 0) await sleep(10);
      })(),
      5_000,
      'the rejection',
    );
    expect(c.avatar.rejected[0]).toMatchObject({ sender: 'agent', reason: expect.stringMatching(/only someone-else/) });
    expect(c.avatar.segments).toHaveLength(0);
  });

  it('knob neverPublishVideo: an agent that waits for the avatar video never starts sending', async () => {
    const c = await call({ neverPublishVideo: true }, { waitVideo: true });
    const sent = speak(c.output, await speech('Hi.'));
    const blocked = await withTimeout(sent, 1_500, 'the first frame').then(
      () => false,
      () => true,
    );
    expect(blocked).toBe(true);
    expect(c.avatar.segments).toHaveLength(0);
  });

  it('publishes avatar_video by default, and knob leaveAfterMs makes it leave by itself', async () => {
    const c = await call({ leaveAfterMs: 1_500 });
    expect(c.avatar.videoPublication?.name).toBe('avatar_video');
    const gone = nextEvent(c.agent, RoomEvent.ParticipantDisconnected, 10_000, 'the avatar to leave', (p) => p.identity === c.avatar.identity);
    expect(await withTimeout(c.avatar.left, 10_000, 'left')).toBe('left by itself');
    await gone;
  });
});

import { initializeLogger } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TickReport } from '../src/avatar/local/av-synchronizer.js';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { diffusionProfileSchema, splatProfileSchema, type RendererProfile } from '../src/avatar/renderer/profiles.js';
import { RendererOutput } from '../src/avatar/renderer/renderer-output.js';
import { createLogger } from '../src/logging.js';
import { IDLE_STAMP, measureLipSync, readStamp, startFakeRenderer, type FakeRenderer, type RendererKnobs } from './fakes/renderer.js';
import { synthesize } from './fakes/speech.js';
import { withTimeout } from './fakes/wait.js';
import { waitUntil } from './livekit-server/testing.js';
import { QueueingSink, voiced } from './support/queueing-sink.js';

const RATE = 24000;
const SECRET = 'renderer-test-secret-0123456789';
beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(knobs: RendererKnobs = {}, overrides: Record<string, unknown> = {}, kind: 'diffusion' | 'splat' = 'diffusion', sink = new MemoryMediaSink()) {
  const { renderer, url } = await startFakeRenderer({ secret: SECRET, knobs });
  cleanups.push(() => renderer.close());
  const schema = kind === 'diffusion' ? diffusionProfileSchema : splatProfileSchema;
  const profile = { ...schema.parse({ adapter: kind, url, avatarId: 'reference', ...overrides }), name: 'gpu' } as RendererProfile;
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  const ticks: TickReport[] = [];
  const output = new RendererOutput({ profile, sink, logger, secret: SECRET, onTick: (t) => ticks.push(t) });
  const finished: { playbackPosition: number; interrupted: boolean }[] = [];
  output.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => finished.push(ev));
  await output.start();
  cleanups.push(() => output.close());
  return { renderer: renderer as FakeRenderer, output, sink, finished, ticks, logs, profile };
}

/** Hand speech to the output the way AgentSession does: 20 ms frames, faster than real time. */
async function speak(output: RendererOutput, samples: Int16Array): Promise<void> {
  const step = RATE / 50;
  for (let at = 0; at < samples.length; at += step) {
    const piece = samples.slice(at, Math.min(samples.length, at + step));
    await output.captureFrame(new AudioFrame(piece, RATE, 1, piece.length));
  }
  output.flush();
}

function heardSpeech(sink: MemoryMediaSink, speech: Int16Array): boolean {
  const all = sink.allAudio();
  const first = speech.findIndex((v) => v !== 0);
  const start = all.findIndex((v) => v !== 0) - first;
  const played = all.subarray(start, start + speech.length);
  return Buffer.from(played.buffer, played.byteOffset, played.byteLength).equals(Buffer.from(speech.buffer, speech.byteOffset, speech.byteLength));
}

describe('renderer output: lips in sync with the voice', () => {
  it('publishes each tick of audio with the frame rendered for it', async () => {
    const { output, sink, finished } = await setup();
    const speech = await synthesize('The quick brown fox jumps over the lazy dog.', { sampleRate: RATE });
    await speak(output, speech.samples);
    await withTimeout(output.waitForPlayout(), 15_000, 'playout');
    const sync = measureLipSync(sink, speech.samples);
    expect(finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
    expect(heardSpeech(sink, speech.samples)).toBe(true);
    expect(sync.fresh).toBeGreaterThan(sync.speechFrames * 0.9);
    expect(sync.maxFreshErrorMs).toBeLessThanOrEqual(20);
  });
});

interface FaultCase {
  name: string;
  knobs: RendererKnobs;
  /** Least share of speech frames that must show a new picture rendered for their audio. */
  minFresh: number;
  check?: (ctx: Awaited<ReturnType<typeof setup>>) => void;
}

const FAULTS: FaultCase[] = [
  { name: 'jittery (0-150 ms per frame)', knobs: { jitterMs: 150 }, minFresh: 0.6 },
  { name: 'bursty (5 frames at a time)', knobs: { burst: 5 }, minFresh: 0.8 },
  { name: 'dropping every 4th frame', knobs: { dropEvery: 4 }, minFresh: 0.6, check: ({ output }) => expect(output.syncStats.repeated).toBeGreaterThan(5) },
  {
    name: 'stalling 1.5 s mid-sentence',
    knobs: { stallAfterFrames: 20, stallMs: 1500 },
    minFresh: 0.3,
    // The renderer was up to a frame window (640 ms) ahead when it stalled: the face freezes for the rest.
    check: ({ output }) => expect(output.syncStats.repeated).toBeGreaterThanOrEqual(8),
  },
  {
    name: 'slow (about 15 fps for 25)',
    knobs: { frameDelayMs: 65 },
    minFresh: 0.05,
    check: ({ output, renderer }) => {
      // Late frames are dropped, not shown out of sync; input playout has passed is never sent.
      expect(output.syncStats.droppedLate + output.clientStats.inputSkipped).toBeGreaterThan(0);
      // Credits: the worker holds at most its frame window, the renderer at most its input credit (+ one message).
      expect(output.syncStats.maxQueued).toBeLessThanOrEqual(16);
      expect([...renderer.sessions][0]!.maxQueuedInputMs).toBeLessThanOrEqual(1000 + 40);
    },
  },
  {
    name: 'sending frames with broken headers',
    knobs: { malformed: 'header', malformedEvery: 5 },
    minFresh: 0.6,
    check: ({ output, logs }) => {
      expect(output.clientStats.protocolErrors).toBeGreaterThan(3);
      expect(logs.join('')).toMatch(/binary header declares a \d+-byte payload but \d+ bytes followed.*renderer broke the protocol/);
    },
  },
  {
    name: 'sending frames that are not JPEG',
    knobs: { malformed: 'payload', malformedEvery: 5 },
    minFresh: 0.6,
    check: ({ output, logs }) => {
      expect(output.clientStats.badFrames).toBeGreaterThan(3);
      expect(logs.join('')).toMatch(/JPEG frame could not be decoded.*renderer frame rejected/);
    },
  },
  {
    name: 'sending unknown messages',
    knobs: { malformed: 'json', malformedEvery: 5 },
    minFresh: 0.9,
    check: ({ logs }) => expect(logs.join('')).toMatch(/unknown message type \\"frame_meta\\"/),
  },
  {
    name: 'ignoring its credits (3 copies of each frame)',
    knobs: { flood: 2 },
    // The copies use up its credits, so some of its real frames arrive over them and are dropped.
    minFresh: 0.3,
    check: ({ output }) => {
      expect(output.clientStats.overCredit).toBeGreaterThan(0);
      expect(output.syncStats.maxQueued).toBeLessThanOrEqual(32);
    },
  },
];

describe('renderer output: faults never break the call or the sync', () => {
  for (const c of FAULTS) {
    it(`renderer ${c.name}`, async () => {
      const ctx = await setup(c.knobs);
      const speech = await synthesize('Could you tell me a little more about what happened, and when it started?', { sampleRate: RATE });
      await speak(ctx.output, speech.samples);
      await withTimeout(ctx.output.waitForPlayout(), 20_000, 'playout');
      const sync = measureLipSync(ctx.sink, speech.samples);
      // The voice is whole and on time whatever the renderer does: one reply, played to the end.
      expect(ctx.finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
      expect(heardSpeech(ctx.sink, speech.samples)).toBe(true);
      // Every new picture shown with speech was rendered for the audio heard with it (within 40 ms).
      expect(sync.maxFreshErrorMs).toBeLessThanOrEqual(40);
      expect(sync.fresh).toBeGreaterThanOrEqual(Math.floor(sync.speechFrames * c.minFresh));
      c.check?.(ctx);
    });
  }
});

describe('renderer output: interruption, replies, formats', () => {
  it('paused and resumed (a cough over the reply), the listener hears the reply whole, each tick again with the frame rendered for it', async () => {
    // The sink holds 200 ms, as the room's does: a pause throws it away so the voice stops at once.
    const sink = new QueueingSink(200);
    const { output, finished, ticks } = await setup({}, {}, 'diffusion', sink);
    const speech = await synthesize('This answer is paused by a cough in the middle, and then it carries on to the end.', { sampleRate: RATE });
    const spoken = speak(output, speech.samples);
    await waitUntil(() => ticks.filter((t) => t.kind === 'fresh').length >= 25, 15_000, 'a second of the reply in sync');
    output.pause();
    const pausedAt = ticks.length;
    await waitUntil(() => ticks.length >= pausedAt + 10, 10_000, 'the avatar to idle a while');
    output.resume();
    const resumedAt = ticks.length;
    await spoken;
    await withTimeout(output.waitForPlayout(), 15_000, 'playout');

    expect(finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
    // Sample for sample, the voice the listener heard is the reply: nothing lost at the pause and
    // nothing said twice.
    expect(sink.voiceHeard()).toEqual(voiced(speech.samples));
    // The ticks played again show the frames rendered for them, not the last picture held.
    const replayed = ticks.slice(resumedAt).filter((t) => t.kind !== 'idle').slice(0, 5);
    expect(replayed.map((t) => t.kind)).toEqual(['fresh', 'fresh', 'fresh', 'fresh', 'fresh']);
  });

  it("on interruption reports what the listener heard: what was played less what the sink still held", async () => {
    const sink = new QueueingSink(200);
    const { output, finished, ticks } = await setup({}, {}, 'diffusion', sink);
    const long = await synthesize('This is a long answer that the user will interrupt before it is over, because it goes on and on.', { sampleRate: RATE });
    void speak(output, long.samples);
    await waitUntil(() => ticks.filter((t) => t.kind === 'fresh').length >= 25, 15_000, 'a second of the reply');
    output.clearBuffer();
    const played = ticks.reduce((n, t) => n + t.speechSamples, 0);
    expect(finished).toHaveLength(1);
    // The sink held 200 ms (4800 samples) that were thrown away unheard.
    expect(finished[0]!.playbackPosition * RATE).toBeCloseTo(played - 0.2 * RATE, 0);
  });

  it('on interruption drops both queues: the next frame is silent and idle, and the next reply is in sync', async () => {
    const { output, sink, finished, ticks, renderer } = await setup();
    const long = await synthesize('This is a long answer that the user will interrupt before it is over, because it goes on and on.', { sampleRate: RATE });
    void speak(output, long.samples);
    await new Promise((r) => setTimeout(r, 1500));
    const framesBefore = sink.frames.length;
    const ticksBefore = sink.audio.length;
    const clearedAt = Date.now();
    output.clearBuffer();
    await new Promise((r) => setTimeout(r, 500));

    expect(finished).toHaveLength(1);
    expect(finished[0]!.interrupted).toBe(true);
    expect(finished[0]!.playbackPosition).toBeGreaterThan(0.8);
    expect(finished[0]!.playbackPosition).toBeLessThan(1.6);
    const after = sink.frames.slice(framesBefore);
    expect(after.length).toBeGreaterThan(5);
    // Within one frame (40 ms, plus slack for a loaded machine) the avatar is silent and at rest.
    expect(after[0]!.wallMs - clearedAt).toBeLessThanOrEqual(80);
    expect(after.every((f) => !f.speech)).toBe(true);
    expect(after.every((f) => readStamp(f, 512, sink.thumbnailScale) === IDLE_STAMP)).toBe(true);
    expect(sink.audio.slice(ticksBefore).every((a) => a.every((v) => v === 0))).toBe(true);
    expect(sink.clears).toBeGreaterThanOrEqual(1);

    // The renderer was told: it stops rendering the old reply, and the next reply starts clean.
    const sentAtClear = [...renderer.sessions][0]!.framesSent;
    const next = await synthesize('Sure, go ahead.', { sampleRate: RATE });
    const firstNewTick = ticks.length;
    await speak(output, next.samples);
    await withTimeout(output.waitForPlayout(), 15_000, 'second playout');
    expect(finished[1]).toEqual({ playbackPosition: next.samples.length / RATE, interrupted: false });
    const startPts = ticks.slice(firstNewTick).find((t) => t.segment === 2)!.audioPts!;
    const sync = measureLipSync(sink, next.samples, startPts);
    expect(sync.fresh).toBeGreaterThan(sync.speechFrames * 0.8);
    expect(sync.maxFreshErrorMs).toBeLessThanOrEqual(20);
    expect([...renderer.sessions][0]!.framesSent - sentAtClear).toBeLessThan(long.samples.length / 960);
  });

  it('splat fed with blendshapes from the viseme engine, at 30 fps and 16 kHz (533⅓ samples a frame)', async () => {
    const { output, sink, finished, renderer } = await setup({}, { fps: 30, sampleRate: 16000 }, 'splat');
    const speech = await synthesize('Would Tuesday morning at nine work for you?', { sampleRate: 16000 });
    const step = 320;
    for (let at = 0; at < speech.samples.length; at += step) {
      const piece = speech.samples.slice(at, at + step);
      await output.captureFrame(new AudioFrame(piece, 16000, 1, piece.length));
    }
    output.flush();
    await withTimeout(output.waitForPlayout(), 15_000, 'playout');
    expect([...renderer.sessions][0]!.start!.input.kind).toBe('blendshapes');
    expect(finished).toEqual([{ playbackPosition: speech.samples.length / 16000, interrupted: false }]);
    const sync = measureLipSync(sink, speech.samples);
    expect(sync.fresh).toBeGreaterThan(sync.speechFrames * 0.9);
    expect(sync.maxFreshErrorMs).toBeLessThanOrEqual(20);
  });

  for (const frameFormat of ['i420', 'rgba'] as const) {
    it(`takes raw ${frameFormat} frames`, async () => {
      const { output, sink, finished } = await setup({}, { frameFormat, width: 320, height: 240 });
      const speech = await synthesize('Hello there.', { sampleRate: RATE });
      await speak(output, speech.samples);
      await withTimeout(output.waitForPlayout(), 15_000, 'playout');
      expect(finished).toHaveLength(1);
      const sync = measureLipSync(sink, speech.samples);
      expect(sync.fresh).toBeGreaterThan(sync.speechFrames * 0.9);
      expect(sync.maxFreshErrorMs).toBeLessThanOrEqual(20);
    });
  }
});

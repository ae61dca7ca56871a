/**
 * The Unreal bridge against a fake Pixel Streaming streamer (a real WebRTC peer over loopback,
 * through a signalling server that routes Epic's protocol): frames come back in order and on
 * time, the agent's speech reaches Unreal as microphone audio, the voice is held back to meet
 * the lips, and the data channel carries well-formed UIInteraction messages.
 */
import { initializeLogger } from '@livekit/agents';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeStringMessage } from '../src/avatar/unreal/data-channel.js';
import { avatarInteractionSchema, blendshapesInteractionSchema } from '../src/avatar/unreal/ui-interaction.js';
import { MOUTH_BLENDSHAPES } from '../src/avatar/visemes/blendshapes.js';
import { readCodeFromLuma, unwrapTime } from './fakes/pixel-streaming/index.js';
import { synthesize } from './fakes/speech.js';
import { withTimeout } from './fakes/wait.js';
import { attach, envelope, RATE, runs, speak, startRig, toneBursts, type Rig } from './fakes/pixel-streaming/rig.js';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

let rig: Rig | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await rig?.close();
  rig = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the unreal bridge (fake Pixel Streaming streamer)', () => {
  it("republishes the streamer's frames into the sink in order, within a delay bound", async () => {
    rig = await startRig();
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    expect(a.sink.format).toMatchObject({ width: 640, height: 360, fps: 30, sampleRate: RATE });
    await sleep(2000);

    const frames = a.sink.frames.map((f) => ({ f, code: readCodeFromLuma(f.luma, 640, a.sink.thumbnailScale) }));
    const read = frames.filter((c) => c.code);
    // 2 s at 30 fps; a loaded machine may drop some, but most must arrive and every one read back.
    expect(frames.length).toBeGreaterThan(30);
    expect(read.length).toBeGreaterThanOrEqual(frames.length - 2);
    const counters = read.map((c) => c.code!.counter);
    for (let i = 1; i < counters.length; i++) expect(counters[i]!).toBeGreaterThan(counters[i - 1]!);
    // Streamer made the frame → the sink got it (encode, loopback, decode, bridge).
    const delays = read.map((c) => c.f.wallMs - unwrapTime(c.code!.timeMs, c.f.wallMs)).sort((x, y) => x - y);
    expect(delays[0]!).toBeGreaterThanOrEqual(0);
    expect(delays[Math.floor(delays.length * 0.9)]!).toBeLessThan(400);
    // The bridge's own share (decoded → handed to the sink) is small.
    expect(a.output.stats().bridgeMsP50).toBeLessThan(50);
    expect(rig.signalling.violations).toEqual([]);
  }, 30_000);

  it("sends the agent's speech to the streamer as microphone audio: same bursts, same pitch, same level", async () => {
    rig = await startRig();
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(300);
    const t0 = Date.now();
    const tone = toneBursts(3, 300, 300, 440, 8000);
    await speak(a.output, tone);
    await withTimeout(a.output.waitForPlayout(), 10_000, 'playout');
    await sleep(300);

    const got = rig.streamer.receivedSince(t0);
    const env = envelope(got.samples, got.sampleRate);
    const bursts = runs(env, 1500);
    expect(bursts).toHaveLength(3);
    for (const [s, e] of bursts) expect((e - s) * 10).toBeGreaterThan(240), expect((e - s) * 10).toBeLessThan(380);
    for (let i = 1; i < bursts.length; i++) {
      const period = (bursts[i]![0] - bursts[i - 1]![0]) * 10;
      expect(period).toBeGreaterThan(540);
      expect(period).toBeLessThan(660);
    }
    // Level: Opus keeps a steady tone's loudness (8000 peak → 5657 RMS).
    const [s, e] = bursts[1]!;
    const mid = env.slice(s + 5, e - 5);
    const rms = Math.sqrt(mid.reduce((sum, v) => sum + v * v, 0) / mid.length);
    expect(rms).toBeGreaterThan(5657 * 0.6);
    expect(rms).toBeLessThan(5657 * 1.4);
    // Pitch, by zero crossings inside the burst.
    const from = (s + 5) * (got.sampleRate / 100);
    const to = (e - 5) * (got.sampleRate / 100);
    let crossings = 0;
    for (let i = from + 1; i < to; i++) if ((got.samples[i - 1]! < 0) !== (got.samples[i]! < 0)) crossings++;
    const hz = crossings / 2 / ((to - from) / got.sampleRate);
    expect(hz).toBeGreaterThan(420);
    expect(hz).toBeLessThan(460);
    // Unreal hears it in real time: the first burst arrives soon after speech started.
    const firstAt = got.chunks.find((c) => c.rms > 1500)!.at;
    expect(firstAt - t0).toBeLessThan(500);

    expect(a.started).toHaveLength(1);
    expect(a.finished).toEqual([{ playbackPosition: tone.length / RATE, interrupted: false }]);
  }, 30_000);

  it("holds the agent's voice back so it meets Unreal's lips", async () => {
    // The fake shows a sound 200 ms after it heard it, and hears it some 50-100 ms after it was
    // sent (Opus, its receive jitter buffer): Unreal's side takes ~250 ms, and the profile says so.
    rig = await startRig({ streamer: { lipSyncDelayMs: 200 }, profile: { audioDelay: { lipSyncMs: 250 } } });
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(2500); // a stats measurement or two
    await speak(a.output, toneBursts(4, 250, 350));
    await withTimeout(a.output.waitForPlayout(), 10_000, 'playout');
    await sleep(400);

    expect(a.output.audioDelayMs).toBeGreaterThanOrEqual(250);
    expect(a.output.audioDelayMs).toBeLessThan(450);
    // Per frame: the mouth Unreal drew vs the loudness of the audio the listener hears with it.
    const chunks = a.sink.audio;
    const loud = (tick: number) => {
      let sum = 0;
      let n = 0;
      for (let t = tick - 3; t <= tick; t++) for (const v of chunks[t] ?? []) (sum += v * v), n++;
      return n ? Math.sqrt(sum / n) : 0;
    };
    const frames = a.sink.frames.map((f) => ({ tick: f.tick, code: readCodeFromLuma(f.luma, 640, a.sink.thumbnailScale) })).filter((f) => f.code);
    const lagged = (lag: number) => pearson(frames.map((f) => f.code!.level), frames.map((f) => loud(f.tick + lag)));
    const byLag = [];
    for (let lag = -30; lag <= 30; lag += 2) byLag.push({ lagMs: lag * 10, r: lagged(lag) });
    const best = byLag.reduce((x, y) => (y.r > x.r ? y : x));
    expect(best.r).toBeGreaterThan(0.7);
    // Within about two video frames; without the hold it would be off by a quarter of a second.
    expect(Math.abs(best.lagMs)).toBeLessThanOrEqual(70);
  }, 30_000);

  it('on interruption stops the voice at once, reports what was heard, and tells Unreal', async () => {
    rig = await startRig();
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(300);
    void speak(a.output, toneBursts(1, 4000, 0));
    await sleep(1200);
    const ticksBefore = a.sink.audio.length;
    const clearedAt = Date.now();
    a.output.clearBuffer();
    await sleep(600);

    expect(a.finished).toHaveLength(1);
    expect(a.finished[0]!.interrupted).toBe(true);
    // About 1.2 s in, less the held-back voice (~0.1 s) that the listener had not heard yet.
    expect(a.finished[0]!.playbackPosition).toBeGreaterThan(0.7);
    expect(a.finished[0]!.playbackPosition).toBeLessThan(1.4);
    expect(a.sink.clears).toBeGreaterThan(0);
    expect(a.sink.audio.slice(ticksBefore).every((c) => c.every((v) => v === 0))).toBe(true);
    // Unreal stops hearing it too, and is told.
    const after = rig.streamer.audio.filter((c) => c.at > clearedAt + 250);
    expect(after.length).toBeGreaterThan(10);
    expect(Math.max(...after.map((c) => c.rms))).toBeLessThan(300);
    const events = rig.streamer.uiInteractions().filter((i) => (i as { type: string }).type === 'speech');
    expect(events).toEqual([
      { type: 'speech', event: 'start', segment: 1 },
      { type: 'speech', event: 'interrupted', segment: 1 },
    ]);
  }, 30_000);

  it('sends ARKit blendshapes as well-formed UIInteraction messages, in step with the speech', async () => {
    rig = await startRig({ profile: { blendshapes: true, initialUIInteraction: { type: 'character', name: 'Ada' } } });
    const a = await attach(rig.profile);
    cleanups.push(() => a.handle.close());
    await sleep(300);
    const speech = await synthesize('Hello there! How are you doing today?', { sampleRate: RATE });
    await speak(a.output, speech.samples);
    await withTimeout(a.output.waitForPlayout(), 10_000, 'playout');
    await sleep(300);

    const messages = rig.streamer.data.filter((d) => d.id === 50);
    // Wire format: id 50, uint16 LE length in UTF-16 units, then the units.
    for (const m of messages) {
      const units = m.bytes[1]! | (m.bytes[2]! << 8);
      expect(m.bytes.length).toBe(3 + 2 * units);
      expect(decodeStringMessage(m.bytes).text).toBe(m.text);
    }
    const parsed = messages.map((m) => JSON.parse(m.text!) as Record<string, unknown>);
    expect(parsed[0]).toEqual({ type: 'character', name: 'Ada' });
    for (const p of parsed.slice(1)) expect(avatarInteractionSchema.safeParse(p).success).toBe(true);
    const shapes = parsed.filter((p) => p.type === 'blendshapes').map((p) => blendshapesInteractionSchema.parse(p));
    // One per video frame (30 fps) while speaking, plus the closing frames.
    const seconds = speech.samples.length / RATE;
    expect(shapes.length).toBeGreaterThan(seconds * 30 * 0.6);
    expect(shapes.length).toBeLessThan(seconds * 30 + 10);
    shapes.forEach((s, i) => expect(s.seq).toBe(i));
    for (const s of shapes) for (const name of Object.keys(s.weights)) expect(MOUTH_BLENDSHAPES).toContain(name);
    expect(Math.max(...shapes.map((s) => s.weights.jawOpen ?? 0))).toBeGreaterThan(0.2);
    // The mouth is closed when the reply ends.
    expect(shapes.at(-1)!.weights).toEqual({});
    const events = parsed.filter((p) => p.type === 'speech');
    expect(events).toEqual([
      { type: 'speech', event: 'start', segment: 1 },
      { type: 'speech', event: 'end', segment: 1 },
    ]);
  }, 30_000);
});

function pearson(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  const ma = a.slice(0, n).reduce((s, v) => s + v, 0) / n;
  const mb = b.slice(0, n).reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return da && db ? num / Math.sqrt(da * db) : 0;
}

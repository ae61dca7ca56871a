import { initializeLogger } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinAnimator } from '../src/avatar/builtin.js';
import { LocalAvatarOutput } from '../src/avatar/local/avatar-output.js';
import { createBuiltinFace } from '../src/avatar/frames/builtin/index.js';
import { downscaleLuma, MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { NEUTRAL_MOUTH } from '../src/avatar/visemes/blendshapes.js';
import { builtinProfileSchema } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';
import { synthesize } from './fakes/speech.js';
import { withTimeout } from './fakes/wait.js';
import { waitUntil } from './livekit-server/testing.js';
import { QueueingSink, voiced } from './support/queueing-sink.js';
import { mouthOpenness, pearson, speechEnvelope } from './support/avatar-measures.js';

const RATE = 24000;
beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

async function makeOutput(opts: { maxQueuedMs?: number; sink?: MemoryMediaSink } = {}) {
  const profile = { ...builtinProfileSchema.parse({ adapter: 'builtin' }), name: 'default' };
  const sink = opts.sink ?? new MemoryMediaSink();
  const output = new LocalAvatarOutput({ animator: builtinAnimator(profile), sink, logger: createLogger({ level: 'error' }), ...(opts.maxQueuedMs ? { maxQueuedMs: opts.maxQueuedMs } : {}) });
  const started: number[] = [];
  const finished: { playbackPosition: number; interrupted: boolean }[] = [];
  output.on('playbackStarted', (ev: { createdAt: number }) => started.push(ev.createdAt));
  output.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => finished.push(ev));
  await output.start();
  return { output, sink, started, finished };
}

/** Hand speech to the output the way AgentSession does: 20 ms frames, faster than real time. */
async function speak(output: LocalAvatarOutput, samples: Int16Array): Promise<void> {
  const step = RATE / 50;
  for (let at = 0; at < samples.length; at += step) {
    const piece = samples.slice(at, Math.min(samples.length, at + step));
    await output.captureFrame(new AudioFrame(piece, RATE, 1, piece.length));
  }
  output.flush();
}

describe('the local avatar output (built-in face, in memory)', () => {
  it('holds a TTS that runs ahead of real time to maxQueuedMs, and lets it go when the reply is interrupted', async () => {
    const { output } = await makeOutput({ maxQueuedMs: 400 });
    const frame = () => new AudioFrame(new Int16Array(RATE / 50).fill(3000), RATE, 1, RATE / 50);
    // 1.5 s of audio offered at once: capture can only be ~0.4 s ahead of what has played.
    const t0 = Date.now();
    for (let i = 0; i < 75; i++) await output.captureFrame(frame());
    const held = Date.now() - t0;
    expect(held).toBeGreaterThanOrEqual(900);
    // Over the limit again, a capture waits; an interruption releases it at once.
    let released = false;
    const burst = new AudioFrame(new Int16Array(RATE / 4).fill(3000), RATE, 1, RATE / 4); // 250 ms
    const blocked = output.captureFrame(burst).then(() => (released = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(released).toBe(false);
    const clearedAt = Date.now();
    output.clearBuffer();
    await withTimeout(blocked, 2_000, 'the held capture to be released by the interruption');
    expect(Date.now() - clearedAt).toBeLessThan(200);
    await output.close();
  });

  it('plays a reply in real time, sample for sample, with one start and one finish', async () => {
    const { output, sink, started, finished } = await makeOutput();
    const speech = await synthesize('The quick brown fox jumps over the lazy dog.', { sampleRate: RATE });
    const t0 = Date.now();
    await speak(output, speech.samples);
    await withTimeout(output.waitForPlayout(), 10_000, 'playout');
    const elapsed = Date.now() - t0;
    await output.close();

    const seconds = speech.samples.length / RATE;
    expect(finished).toEqual([{ playbackPosition: seconds, interrupted: false }]);
    expect(started).toHaveLength(1);
    // Paced like a loudspeaker: not faster than the audio lasts.
    expect(elapsed).toBeGreaterThanOrEqual(seconds * 1000 - 100);
    // What left the avatar is exactly the reply, in order, padded with silence around it.
    const heard = sink.allAudio();
    const start = heard.findIndex((v) => v !== 0) - speech.samples.findIndex((v) => v !== 0);
    const played = heard.subarray(start, start + speech.samples.length);
    expect(Buffer.from(played.buffer, played.byteOffset, played.byteLength).equals(Buffer.from(speech.samples.buffer))).toBe(true);
  });

  it("starts a reply at once, not at the idle clock's next frame, and keeps its audio whole", async () => {
    const { output, sink, finished } = await makeOutput();
    const speech = await synthesize('Sure, I can do that.', { sampleRate: RATE });
    // Let the idle face tick a while, so the clock has a phase of its own.
    await new Promise((r) => setTimeout(r, 120));
    const idleFrames = sink.frames.length;
    // A reply's first audio, more than a frame of it (AgentSession hands over what the TTS has made).
    const first = speech.samples.slice(0, RATE / 10);
    await output.captureFrame(new AudioFrame(first, RATE, 1, first.length));
    // No timer has run since: the speaking frame was drawn by the capture itself.
    expect(sink.frames.slice(idleFrames).some((f) => f.speech)).toBe(true);
    const rest = speech.samples.slice(RATE / 10);
    await output.captureFrame(new AudioFrame(rest, RATE, 1, rest.length));
    output.flush();
    await withTimeout(output.waitForPlayout(), 10_000, 'playout');
    await output.close();
    expect(finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
    // Re-phasing the clock lost and repeated nothing: what left is exactly the reply.
    const heard = sink.allAudio();
    const start = heard.findIndex((v) => v !== 0) - speech.samples.findIndex((v) => v !== 0);
    const played = heard.subarray(start, start + speech.samples.length);
    expect(Buffer.from(played.buffer, played.byteOffset, played.byteLength).equals(Buffer.from(speech.samples.buffer))).toBe(true);
  });

  it('shows the mouth for the audio of the same frame: lips lead or lag by no more than one frame', async () => {
    const { output, sink } = await makeOutput();
    const speech = await synthesize('Hello there, how are you doing this fine morning? I am a talking face.', { sampleRate: RATE, voice: 'en+f3' });
    await speak(output, speech.samples);
    await withTimeout(output.waitForPlayout(), 15_000, 'playout');
    await output.close();

    const mouth = mouthOpenness(sink);
    const audio = speechEnvelope(sink);
    const lagged = (lag: number) => pearson(mouth.slice(Math.max(0, lag)), audio.slice(Math.max(0, -lag)));
    const byLag = [-3, -2, -1, 0, 1, 2, 3].map((lag) => ({ lag, r: lagged(lag) }));
    const best = byLag.reduce((a, b) => (b.r > a.r ? b : a));
    expect(best.r).toBeGreaterThan(0.6);
    expect(Math.abs(best.lag)).toBeLessThanOrEqual(1);
  });

  it('paused and resumed (a cough over the reply), the listener hears the reply whole: what the loudspeaker held is played again, not skipped', async () => {
    const sink = new QueueingSink(200);
    const { output, finished } = await makeOutput({ sink });
    const speech = await synthesize('This answer is paused by a cough in the middle, and then it carries on to the end.', { sampleRate: RATE });
    const spoken = speak(output, speech.samples);
    await waitUntil(() => sink.frames.filter((f) => f.speech).length >= 30, 10_000, 'a second of the reply to play');
    output.pause();
    const framesAtPause = sink.frames.length;
    await waitUntil(() => sink.frames.length >= framesAtPause + 10, 10_000, 'the avatar to idle a while');
    output.resume();
    await spoken;
    await withTimeout(output.waitForPlayout(), 15_000, 'playout');
    await output.close();

    expect(finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
    // Sample for sample, the voice the listener heard is the reply: nothing lost at the pause and
    // nothing said twice.
    expect(sink.voiceHeard()).toEqual(voiced(speech.samples));
  });

  it('on interruption drops the rest, reports where it stopped, and closes the mouth on the next frame', async () => {
    const { output, sink, finished } = await makeOutput();
    const speech = await synthesize('This is a long answer that the user will interrupt before it is over, because it goes on and on.', { sampleRate: RATE });
    void speak(output, speech.samples);
    await new Promise((r) => setTimeout(r, 1200));
    const framesBefore = sink.frames.length;
    const ticksBefore = sink.audio.length; // late frames may be dropped under load; ticks never are
    const clearedAt = Date.now();
    output.clearBuffer();
    await new Promise((r) => setTimeout(r, 400));
    await output.close();

    expect(finished).toHaveLength(1);
    expect(finished[0]!.interrupted).toBe(true);
    // It was stopped about 1.2 s in; the position says what was heard, not what was queued.
    expect(finished[0]!.playbackPosition).toBeGreaterThan(0.9);
    expect(finished[0]!.playbackPosition).toBeLessThan(1.5);
    expect(finished[0]!.playbackPosition).toBeLessThan(speech.samples.length / RATE);

    const after = sink.frames.slice(framesBefore);
    expect(after.length).toBeGreaterThan(5);
    expect(after.every((f) => !f.speech)).toBe(true);
    expect(after[0]!.wallMs - clearedAt).toBeLessThanOrEqual(80);
    // The first frame after the interruption is exactly the resting face for its moment.
    const first = after[0]!;
    const resting = createBuiltinFace({ width: 512, height: 512, seed: 1 }).render({ timeMs: first.timeMs, mouth: NEUTRAL_MOUTH, speaking: false });
    expect(Buffer.from(first.luma).equals(Buffer.from(downscaleLuma(resting, sink.thumbnailScale)))).toBe(true);
    expect(sink.audio.slice(ticksBefore).every((a) => a.every((v) => v === 0))).toBe(true);
  });
});

/**
 * Bench of the built-in avatar's per-frame cost: viseme engine, face render and handing the frame
 * to WebRTC (`VideoSource.captureFrame`, no room needed), driven by real espeak-ng speech. Run: npx tsx bench/builtin-avatar.ts
 */
import { pathToFileURL } from 'node:url';
import { VideoBufferType, VideoFrame, VideoSource, dispose } from '@livekit/rtc-node';
import { concatPcm } from '../src/audio/pcm.js';
import { createBuiltinFace } from '../src/avatar/frames/builtin/index.js';
import type { Blendshapes } from '../src/avatar/visemes/blendshapes.js';
import { createVisemeEngine } from '../src/avatar/visemes/index.js';
import { synthesize } from '../test/fakes/speech.js';

const FPS = 25;
const SAMPLE_RATE = 24000;
const WIDTH = 512;
const HEIGHT = 512;
const FRAMES = 500;
const WARMUP = 50;

const SENTENCES = [
  'Hello! Thanks for calling. How can I help you today?',
  'The quick brown fox jumps over the lazy dog, while the weather stays nice and sunny.',
  'Could you tell me a little more about what happened, and when it started?',
  'Sure, I can book that for you. Would Tuesday morning at nine work?',
];

/** espeak-ng speech at SAMPLE_RATE mono, at least `frames` video frames long. */
async function speechAudio(frames: number): Promise<{ samples: Int16Array; source: string }> {
  const need = Math.ceil((frames * SAMPLE_RATE) / FPS);
  const parts: Int16Array[] = [];
  let have = 0;
  for (let i = 0; have < need; i++) {
    const speech = await synthesize(SENTENCES[i % SENTENCES.length]!, { sampleRate: SAMPLE_RATE, voice: i % 2 ? 'en+f3' : 'en-us', wordsPerMinute: 165 });
    const pause = new Int16Array(SAMPLE_RATE / 4); // 250 ms between sentences
    parts.push(speech.samples, pause);
    have += speech.samples.length + pause.length;
  }
  return { samples: concatPcm(parts).subarray(0, need), source: 'espeak-ng speech (en-us, en+f3)' };
}

interface Stat {
  median: number;
  p95: number;
  cpuPerFrame: number;
}

function stats(wall: number[], cpuUs: number): Stat {
  const s = [...wall].sort((a, b) => a - b);
  return { median: s[s.length >> 1]!, p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]!, cpuPerFrame: cpuUs / 1000 / wall.length };
}

/** Time `fn(i)` for i in 0..n-1: wall per call (performance.now) and process CPU (user+system) for the loop. */
function measure(n: number, fn: (i: number) => void): Stat {
  const wall: number[] = new Array(n);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn(i);
    wall[i] = performance.now() - t0;
  }
  const cpu = process.cpuUsage(cpu0);
  return stats(wall, cpu.user + cpu.system);
}

export async function benchBuiltinAvatar(): Promise<void> {
  const { samples, source } = await speechAudio(FRAMES + WARMUP);
  const spf = SAMPLE_RATE / FPS;
  const chunk = (i: number) => samples.subarray(i * spf, (i + 1) * spf);

  const t0 = performance.now();
  const face = createBuiltinFace({ width: WIDTH, height: HEIGHT, seed: 1 });
  const startupMs = performance.now() - t0;

  // 1. Viseme engine.
  const engine = createVisemeEngine({ fps: FPS });
  for (let i = 0; i < WARMUP; i++) engine.frame(chunk(i), SAMPLE_RATE);
  engine.reset();
  const mouths: Blendshapes[] = new Array(FRAMES);
  const visemes = measure(FRAMES, (i) => {
    mouths[i] = engine.frame(chunk(WARMUP + i), SAMPLE_RATE);
  });
  const speaking = mouths.map((m) => (m.jawOpen ?? 0) > 0.02);

  // 2. Face render, driven by those mouths.
  for (let i = 0; i < WARMUP; i++) face.render({ timeMs: i * 40, mouth: mouths[i % FRAMES]!, speaking: true });
  const rendered: Uint8Array[] = [];
  const render = measure(FRAMES, (i) => {
    const f = face.render({ timeMs: (WARMUP + i) * (1000 / FPS), mouth: mouths[i]!, speaking: speaking[i]! });
    if (i < 2) rendered.push(f.data);
  });

  // 3. Hand the RGBA frame to WebRTC (converted and copied by the native side).
  const video = new VideoSource(WIDTH, HEIGHT);
  const frameA = face.render({ timeMs: 0, mouth: mouths[0]!, speaking: true });
  for (let i = 0; i < WARMUP; i++) video.captureFrame(new VideoFrame(frameA.data, WIDTH, HEIGHT, VideoBufferType.RGBA));
  const capture = measure(FRAMES, (i) => {
    const f = face.render({ timeMs: i * 40, mouth: mouths[i]!, speaking: true });
    video.captureFrame(new VideoFrame(f.data, WIDTH, HEIGHT, VideoBufferType.RGBA), BigInt(Math.round((i * 1e6) / FPS)));
  });
  await video.close();
  // The capture loop above includes a render; subtract the render's cost to get the capture alone.
  const captureOnly: Stat = {
    median: Math.max(0, capture.median - render.median),
    p95: Math.max(0, capture.p95 - render.median),
    cpuPerFrame: Math.max(0, capture.cpuPerFrame - render.cpuPerFrame),
  };

  const totalCpu = visemes.cpuPerFrame + render.cpuPerFrame + captureOnly.cpuPerFrame;
  const totalWall = visemes.median + render.median + captureOnly.median;
  const fmt = (x: number) => x.toFixed(3).padStart(8);
  const row = (name: string, s: Stat) => console.log(`${name.padEnd(34)}${fmt(s.median)}${fmt(s.p95)}${fmt(s.cpuPerFrame)}`);
  console.log(`builtin avatar bench: ${WIDTH}x${HEIGHT} @ ${FPS} fps, ${FRAMES} frames of ${source}, audio ${SAMPLE_RATE} Hz`);
  console.log(`face start-up (SVG rasterised once): ${startupMs.toFixed(0)} ms, ${face.mouthSpriteCount} mouth sprites`);
  console.log(`${'per frame, ms'.padEnd(34)}${'median'.padStart(8)}${'p95'.padStart(8)}${'cpu'.padStart(8)}`);
  row('viseme engine (frame)', visemes);
  row('face render', render);
  row('VideoSource.captureFrame (RGBA)', captureOnly);
  console.log(`${'total'.padEnd(34)}${fmt(totalWall)}${''.padStart(8)}${fmt(totalCpu)}`);
  console.log(`real-time avatars one core could carry at ${FPS} fps: ${(1000 / (FPS * totalCpu)).toFixed(0)} (by CPU time; ${(1000 / (FPS * totalWall)).toFixed(0)} by median wall time)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Run directly: release rtc-node's native client afterwards so the process can exit
  // (not done inside benchBuiltinAvatar, which may share the process with other benches).
  benchBuiltinAvatar()
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dispose());
}

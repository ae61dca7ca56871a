/**
 * Bench of the worker side of the renderer protocol (GPU avatars): what each frame costs the
 * worker (decode, AV sync, hand to WebRTC's VideoSource, no room needed) at 512x512 and 720p,
 * 25 and 30 fps; what the AV synchronizer adds to the latency; how many frames a jittery
 * renderer loses. The renderer is the reference one (built-in face) in this process, over a real
 * websocket. Run: npx tsx bench/renderer.ts
 */
import { pathToFileURL } from 'node:url';
import { initializeLogger } from '@livekit/agents';
import { AudioFrame, VideoBufferType, VideoFrame, VideoSource, dispose } from '@livekit/rtc-node';
import { createBuiltinFace } from '../src/avatar/frames/builtin/index.js';
import type { RgbaFrame } from '../src/avatar/frames/frame-source.js';
import { AvSynchronizer, type SegmentStart } from '../src/avatar/local/av-synchronizer.js';
import type { AvatarMediaSink, MediaFormat } from '../src/avatar/local/media-sink.js';
import { decodeFrame, encodeFrame } from '../src/avatar/renderer/frame-decoder.js';
import { diffusionProfileSchema, type RendererProfile } from '../src/avatar/renderer/profiles.js';
import { RendererOutput } from '../src/avatar/renderer/renderer-output.js';
import { createLogger } from '../src/logging.js';
import { concatPcm } from '../src/audio/pcm.js';
import { startFakeRenderer } from '../test/fakes/renderer.js';
import { synthesize } from '../test/fakes/speech.js';

const SAMPLE_RATE = 24000;
const FRAMES = 150;
const WARMUP = 20;
const logger = createLogger({ level: 'silent' });

/** Publishes frames to an rtc-node VideoSource, as RoomMediaSink does, without a room. */
class VideoSourceSink implements AvatarMediaSink {
  private source: VideoSource | undefined;
  async start(format: MediaFormat): Promise<void> {
    this.source = new VideoSource(format.width, format.height);
  }
  pushAudio(): void {}
  pushVideo(frame: RgbaFrame, timeMs: number): void {
    this.source!.captureFrame(new VideoFrame(frame.data, frame.width, frame.height, VideoBufferType.RGBA), BigInt(Math.round(timeMs * 1000)));
  }
  clearAudio(): void {}
  queuedAudioMs(): number {
    return 0;
  }
  async close(): Promise<void> {
    await this.source?.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? 0;

/** Frames of the builtin face with a moving mouth, encoded as a renderer would send them. */
async function rendererFrames(width: number, height: number, format: 'jpeg' | 'i420', n: number): Promise<Uint8Array[]> {
  const face = createBuiltinFace({ width, height, seed: 3 });
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const f = face.render({ timeMs: i * 40, mouth: { jawOpen: 0.5 + 0.5 * Math.sin(i / 3), mouthFunnel: 0.3 * Math.max(0, Math.cos(i / 5)) }, speaking: true });
    out.push(await encodeFrame({ ...f, data: f.data.slice() }, format));
  }
  return out;
}

interface CostRow {
  size: string;
  fps: number;
  format: string;
  decodeMs: number;
  decodeP95: number;
  syncPublishMs: number;
  cpuPerFrameMs: number;
  coreShare: number;
}

/** Decode → synchronizer → VideoSource for FRAMES frames, clock driven by hand (no waiting). */
async function workerCost(width: number, height: number, fps: number, format: 'jpeg' | 'i420'): Promise<CostRow> {
  const payloads = await rendererFrames(width, height, format, 30);
  const video = { width, height, fps, format } as const;
  const sink = new VideoSourceSink();
  const sync = new AvSynchronizer({ sink, width, height, fps, sampleRate: SAMPLE_RATE, prebufferMs: 0, firstFrameTimeoutMs: 1000, maxQueuedFrames: 64, logger, manualClock: true });
  await sync.start();
  const spf = SAMPLE_RATE / fps;
  sync.pushAudio(1, 0, new Int16Array(Math.ceil((FRAMES + WARMUP) * spf)).fill(1000));
  sync.endSegment(1);
  const decode: number[] = [];
  const publish: number[] = [];
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < FRAMES + WARMUP; i++) {
    if (i === WARMUP) cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const frame = await decodeFrame(payloads[i % payloads.length]!, video);
    const t1 = performance.now();
    sync.pushFrame({ frame, pts: Math.floor((i * SAMPLE_RATE) / fps), segment: 1, idle: false });
    sync.tick();
    const t2 = performance.now();
    if (i >= WARMUP) {
      decode.push(t1 - t0);
      publish.push(t2 - t1);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  await sync.close();
  if (sync.stats.fresh < FRAMES) throw new Error(`bench: only ${sync.stats.fresh} of ${FRAMES + WARMUP} frames were matched`);
  const cpuPerFrameMs = (cpu.user + cpu.system) / 1000 / FRAMES;
  return { size: `${width}x${height}`, fps, format, decodeMs: median(decode), decodeP95: p95(decode), syncPublishMs: median(publish), cpuPerFrameMs, coreShare: (cpuPerFrameMs * fps) / 1000 };
}

/** espeak-ng speech of about `seconds`. */
async function speech(seconds: number): Promise<Int16Array> {
  const sentences = ['Hello! Thanks for calling. How can I help you today?', 'Sure, I can book that for you. Would Tuesday morning at nine work?'];
  const parts: Int16Array[] = [];
  let have = 0;
  for (let i = 0; have < seconds * SAMPLE_RATE; i++) {
    const s = await synthesize(sentences[i % sentences.length]!, { sampleRate: SAMPLE_RATE });
    parts.push(s.samples);
    have += s.samples.length;
  }
  return concatPcm(parts);
}

interface LiveRun {
  starts: SegmentStart[];
  stats: RendererOutput['syncStats'];
  client: RendererOutput['clientStats'];
}

/** Real time: the reference renderer (with knobs) over a websocket, replies spoken as AgentSession hands them over. */
async function liveRun(replies: Int16Array[], opts: { jitterMs?: number; frameDelayMs?: number; prebufferMs: number }): Promise<LiveRun> {
  const { renderer, url } = await startFakeRenderer({ knobs: { jitterMs: opts.jitterMs, frameDelayMs: opts.frameDelayMs } });
  const profile = { ...diffusionProfileSchema.parse({ adapter: 'diffusion', url, avatarId: 'bench', prebufferMs: opts.prebufferMs }), name: 'bench' } as RendererProfile;
  const starts: SegmentStart[] = [];
  const output = new RendererOutput({ profile, sink: new VideoSourceSink(), logger, onSegmentStart: (s) => starts.push(s) });
  await output.start();
  for (const reply of replies) {
    const step = SAMPLE_RATE / 50;
    for (let at = 0; at < reply.length; at += step) {
      const piece = reply.slice(at, Math.min(reply.length, at + step));
      await output.captureFrame(new AudioFrame(piece, SAMPLE_RATE, 1, piece.length));
    }
    output.flush();
    await output.waitForPlayout();
    await new Promise((r) => setTimeout(r, 300));
  }
  const result = { starts, stats: { ...output.syncStats }, client: { ...output.clientStats } };
  await output.close();
  await renderer.close();
  return result;
}

export async function benchRenderer(): Promise<void> {
  // voice.AudioOutput logs through agents' logger, which must exist first.
  initializeLogger({ pretty: false, level: 'error' });
  const fmt = (x: number, d = 2) => x.toFixed(d).padStart(8);
  console.log(`renderer protocol bench (worker side): decode → AV sync → VideoSource.captureFrame, ${FRAMES} frames each, one thread driving`);
  console.log(`${'size'.padEnd(10)}${'fps'.padStart(4)} ${'format'.padEnd(6)}${'decode'.padStart(8)}${'p95'.padStart(8)}${'sync+pub'.padStart(9)}${'cpu/frm'.padStart(8)}${'core %'.padStart(8)}`);
  for (const [w, h] of [
    [512, 512],
    [1280, 720],
  ] as const) {
    for (const fps of [25, 30]) {
      for (const format of ['jpeg', 'i420'] as const) {
        const r = await workerCost(w, h, fps, format);
        console.log(`${r.size.padEnd(10)}${String(r.fps).padStart(4)} ${r.format.padEnd(6)}${fmt(r.decodeMs)}${fmt(r.decodeP95)}${fmt(r.syncPublishMs, 2).padStart(9)}${fmt(r.cpuPerFrameMs)}${fmt(r.coreShare * 100, 1)}`);
      }
    }
  }
  console.log('  (ms per frame, median; cpu/frm is process CPU incl. the decode threadpool; core % = share of one core at that fps)');

  const replies = [await speech(2), await speech(2.5), await speech(2)];
  console.log('latency added by the AV synchronizer (reference renderer on loopback, 512x512 jpeg @ 25 fps, 6 replies, medians):');
  for (const prebufferMs of [80, 200]) {
    const run = await liveRun([...replies, ...replies], { prebufferMs });
    const firstFrame = run.starts.map((s) => (s.firstFrameAt ?? s.startedAt) - s.firstAudioAt);
    const hold = run.starts.map((s) => s.prebufferWaitMs);
    const total = run.starts.map((s) => s.startedAt - s.firstAudioAt);
    console.log(
      `  prebuffer ${String(prebufferMs).padStart(3)} ms: first audio → first frame back ${median(firstFrame).toFixed(0)} ms (renderer), held for pre-buffer ${median(hold).toFixed(0)} ms (synchronizer), first audio → first published tick ${median(total).toFixed(0)} ms`,
    );
  }

  // A renderer much faster than real time works up to `frameWindow` frames ahead, which hides its
  // jitter; one that renders barely faster than real time (30 ms sleep + ~5 ms render and encode a frame: ~28 fps for 25) does not.
  console.log('frames lost under a jittery renderer (each frame sent 0..J ms late, order kept; 3 replies, ~6.5 s of speech):');
  console.log(`  ${'renderer'.padEnd(18)}${'J ms'.padStart(5)}${'prebuf'.padStart(8)}${'speech'.padStart(8)}${'fresh'.padStart(8)}${'repeat'.padStart(8)}${'late'.padStart(8)}${'fresh %'.padStart(9)}`);
  for (const [label, frameDelayMs] of [
    ['fast (~100+ fps)', 0],
    ['~28 fps', 30],
  ] as const) {
    for (const jitterMs of [0, 50, 150, 300]) {
      for (const prebufferMs of [80, 200]) {
        if (frameDelayMs === 0 && prebufferMs === 200) continue;
        const { stats } = await liveRun(replies, { jitterMs, frameDelayMs, prebufferMs });
        console.log(
          `  ${label.padEnd(18)}${String(jitterMs).padStart(5)}${String(prebufferMs).padStart(8)}${String(stats.speechTicks).padStart(8)}${String(stats.fresh).padStart(8)}${String(stats.repeated).padStart(8)}${String(stats.droppedLate).padStart(8)}${((stats.fresh / Math.max(1, stats.speechTicks)) * 100).toFixed(1).padStart(9)}`,
        );
      }
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchRenderer()
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dispose());
}

/**
 * Bench of the Unreal Pixel Streaming bridge: a fake streamer in a child process (its encoder's
 * CPU is Unreal's, not ours) streams 1280x720 at 30 fps over loopback; this process runs the
 * bridge as a job does (signalling, WebRTC receive and decode, I420→RGBA, the sink) with the
 * sink handing frames to a LiveKit VideoSource (no room: the republish encoder is not counted).
 * Figures: added latency of the bridge (frame decoded → handed to the sink), capture → sink
 * end to end (encode, loopback, decode, bridge), and this process's CPU per stream.
 * Run: npx tsx bench/unreal-bridge.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initializeLogger } from '@livekit/agents';
import { dispose, VideoBufferType, VideoFrame, VideoSource } from '@livekit/rtc-node';
import type { RgbaFrame } from '../src/avatar/frames/frame-source.js';
import type { AvatarMediaSink, MediaFormat } from '../src/avatar/local/media-sink.js';
import { UnrealLink } from '../src/avatar/unreal/link.js';
import { UnrealAvatarOutput } from '../src/avatar/unreal/output.js';
import { unrealProfileSchema } from '../src/avatar/unreal/profiles.js';
import { createLogger } from '../src/logging.js';
import { readCodeFromRgba, unwrapTime } from '../test/fakes/pixel-streaming/frame-code.js';

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const WARMUP_MS = 3_000;
const MEASURE_MS = 10_000;

/** Hands frames to WebRTC the way RoomMediaSink does, and notes when each left and what it carried. */
class VideoSourceSink implements AvatarMediaSink {
  private source: VideoSource | undefined;
  readonly endToEndMs: number[] = [];
  frames = 0;
  recording = false;

  async start(format: MediaFormat): Promise<void> {
    this.source = new VideoSource(format.width, format.height);
  }
  pushAudio(): void {}
  pushVideo(frame: RgbaFrame, timeMs: number): void {
    this.source?.captureFrame(new VideoFrame(frame.data, frame.width, frame.height, VideoBufferType.RGBA), BigInt(Math.round(timeMs * 1000)));
    if (!this.recording) return;
    this.frames++;
    const code = readCodeFromRgba(frame);
    const now = Date.now();
    if (code) this.endToEndMs.push(now - unwrapTime(code.timeMs, now));
  }
  clearAudio(): void {}
  queuedAudioMs(): number {
    return 0;
  }
  async close(): Promise<void> {
    await this.source?.close();
  }
}

/** Starts the fake signalling server and a 720p30 streamer in a child process; resolves with the player URL. */
async function startFakeUnreal(): Promise<{ url: string; child: ChildProcess }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--fake-unreal'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`fake Unreal exited (${code})`)));
  });
  return { url: line.trim(), child };
}

async function serveFakeUnreal(): Promise<void> {
  const { FakeSignallingServer, FakeStreamer } = await import('../test/fakes/pixel-streaming/index.js');
  const signalling = await FakeSignallingServer.start();
  const streamer = new FakeStreamer({ signallingUrl: signalling.streamerUrl, width: WIDTH, height: HEIGHT, fps: FPS });
  await streamer.start();
  console.log(signalling.playerUrl);
  // Lives until the parent closes our stdin.
  process.stdin.resume();
  process.stdin.on('end', () => {
    void streamer.close().then(() => signalling.close()).then(() => process.exit(0));
  });
}

const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;

export async function benchUnrealBridge(): Promise<void> {
  // voice.AudioOutput logs through agents' logger, which a job would have set up.
  initializeLogger({ pretty: false, level: 'error' });
  const { url, child } = await startFakeUnreal();
  const logger = createLogger({ level: 'error' });
  const profile = { ...unrealProfileSchema.parse({ adapter: 'unreal', signallingUrl: url, fps: FPS }), name: 'bench' };
  const link = new UnrealLink(profile, logger);
  const sink = new VideoSourceSink();
  const output = new UnrealAvatarOutput({ link, sink, profile, logger });
  try {
    const t0 = performance.now();
    await link.start();
    const connectMs = performance.now() - t0;
    await output.start();
    await new Promise((r) => setTimeout(r, WARMUP_MS));

    const framesBefore = output.stats().framesIn;
    sink.recording = true;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - wall0;
    sink.recording = false;
    const stats = output.stats();
    const frames = stats.framesIn - framesBefore;
    const cpuMs = (cpu.user + cpu.system) / 1000;

    // The bridge's own per-frame step, in isolation: I420 → RGBA for the sink.
    const { i420ToRgba } = (await import('@roamhq/wrtc')).default.nonstandard;
    const i420 = { width: WIDTH, height: HEIGHT, data: new Uint8Array((WIDTH * HEIGHT * 3) / 2) };
    const rgba = { width: WIDTH, height: HEIGHT, data: new Uint8Array(WIDTH * HEIGHT * 4) };
    const c0 = performance.now();
    for (let i = 0; i < 100; i++) i420ToRgba(i420, rgba);
    const convertMs = (performance.now() - c0) / 100;

    const e2e = [...sink.endToEndMs].sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(2).padStart(8);
    console.log(`unreal bridge bench: ${WIDTH}x${HEIGHT} @ ${FPS} fps VP8 from a fake streamer (child process) over loopback, ${MEASURE_MS / 1000} s`);
    console.log(`connect (signalling → first frame): ${connectMs.toFixed(0)} ms; frames received ${(frames / (wall / 1000)).toFixed(1)} fps`);
    console.log(`${'latency, ms'.padEnd(44)}${'p50'.padStart(8)}${'p95'.padStart(8)}`);
    console.log(`${'bridge: frame decoded → handed to the sink'.padEnd(44)}${f(stats.bridgeMsP50)}${f(stats.bridgeMsP95)}`);
    console.log(`${'end to end: streamer capture → sink'.padEnd(44)}${f(pct(e2e, 0.5))}${f(pct(e2e, 0.95))}`);
    console.log(`I420→RGBA alone: ${convertMs.toFixed(2)} ms/frame`);
    console.log(
      `CPU of this process per 720p30 stream: ${((cpuMs / wall) * 100).toFixed(1)} % of one core (${(cpuMs / Math.max(1, frames)).toFixed(2)} ms/frame: WebRTC receive + VP8 decode + bridge + VideoSource handoff); streams one core could carry: ${(wall / cpuMs).toFixed(1)}`,
    );
  } finally {
    await output.close();
    await link.close();
    child.stdin?.end();
    await new Promise((r) => child.once('exit', r).once('error', r));
  }
}

if (process.argv.includes('--fake-unreal')) {
  void serveFakeUnreal();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchUnrealBridge()
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dispose());
}

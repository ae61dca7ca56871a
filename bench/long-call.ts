/**
 * One long conversation, and whether its memory stays flat (issue 16). The real worker (`src/main.ts
 * dev`, as the e2e tests start it) runs against the LiveKit-protocol test server with every cloud
 * API replaced by its fake; a user in the room speaks a question through a real-time microphone,
 * waits for the reply, pauses, and asks again, for N minutes. The job process samples its own
 * memory after a full GC (an opt-in hook in src/metrics/job-memory.ts) and reports it over the
 * metrics hub; this bench reads it from the worker's /metrics, fits the slope after the first
 * minute and prints MB per hour, with the reply latency of the first turns beside the last ones.
 * The plot goes to docs/long-call-<family>.png.
 *
 * Families (one per run): default (Deepgram STT, OpenAI TTS, builtin avatar), openai-stt,
 * elevenlabs-tts, remote (a self-hosted provider fake whose avatar joins the room), renderer (the
 * renderer client against the fake GPU renderer), silence (default, a question a minute: the user
 * mostly listening). `--snapshots` has the job write a heap snapshot after warm-up and near the
 * end, and prints what grew between them by constructor.
 *
 * `--allocator jemalloc` runs the worker (and so its job processes) with jemalloc preloaded instead
 * of glibc's malloc (Debian: `apt-get install libjemalloc2`); its plot and samples get a
 * `-jemalloc` suffix, so the two can be run side by side and compared.
 *
 * Run: npx tsx bench/long-call.ts --minutes 10 [--family default] [--snapshots] [--allocator jemalloc]
 *      (or LONG_CALL_MINUTES / LONG_CALL_FAMILY)
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dispose, TrackKind, type RemoteTrack } from '@livekit/rtc-node';
import { z } from 'zod';
import { MEMORY_GC_ENV, MEMORY_INTERVAL_ENV, MEMORY_SNAPSHOT_DIR_ENV, MemoryTrend } from '../src/metrics/job-memory.js';
import { startFakeAvatar, type FakeAvatarParticipant } from '../test/fakes/avatar-participant.js';
import { startFakeDeepgram } from '../test/fakes/deepgram.js';
import { startFakeElevenLabs } from '../test/fakes/elevenlabs.js';
import { freePort, startLoopbackServer } from '../test/fakes/net.js';
import { startFakeOpenAI } from '../test/fakes/openai.js';
import { startFakeSelfhosted } from '../test/fakes/providers/index.js';
import { startFakeRenderer } from '../test/fakes/renderer.js';
import { speechWithSilence } from '../test/fakes/speech.js';
import { startTestLiveKitServer } from '../test/livekit-server/index.js';
import { connectClient, RoomEvent, sleep, waitUntil } from '../test/livekit-server/testing.js';
import { Microphone, now, recordAudio, type Recorder, type ReceivedAudioFrame } from '../test/e2e/viewer.js';
import { startWorkerProcess } from '../test/e2e/worker-process.js';
import { countHeap, heapGrowth } from './support/heap-diff.js';
import { writeLinePlot } from './support/line-plot.js';
import { medianP95 } from './support/stats.js';
import { QUESTION, REPLY } from './support/worker-added.js';

export const FAMILIES = ['default', 'openai-stt', 'elevenlabs-tts', 'remote', 'renderer', 'silence'] as const;
export type Family = (typeof FAMILIES)[number];

const DOCS = fileURLToPath(new URL('../docs/', import.meta.url));
const OUT = fileURLToPath(new URL('./out/', import.meta.url));
const REPO = fileURLToPath(new URL('../', import.meta.url));
const KEY = 'long-call-key-0123456789';
/** RMS (PCM16) above which a received 10 ms frame is the agent's voice. */
const LOUD = 1_000;
/** The job samples its memory (after a full GC) this often. */
const SAMPLE_MS = 10_000;
/** Memory before this (model loading, JIT, buffers reaching their working size) is not growth. */
const WARMUP_MIN = 1;

export const ALLOCATORS = ['glibc', 'jemalloc'] as const;
export type Allocator = (typeof ALLOCATORS)[number];

/** Where Debian's and Ubuntu's libjemalloc2 put the library, per architecture. */
const JEMALLOC_PATHS = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2', '/usr/lib/libjemalloc.so.2'];

export function jemallocPath(): string {
  const found = JEMALLOC_PATHS.find((p) => existsSync(p));
  if (!found) throw new Error(`--allocator jemalloc: libjemalloc.so.2 is not installed (looked in ${JEMALLOC_PATHS.join(', ')}); on Debian or Ubuntu: apt-get install libjemalloc2`);
  return found;
}

export interface LongCallResult {
  family: Family;
  allocator: Allocator;
  minutes: number;
  turns: number;
  failedTurns: number;
  slopes: { heap: number; external: number; rss: number };
  /** The same fit over the call's second half only. */
  secondHalfSlopes?: { heap: number; external: number; rss: number };
  latency: { first: number; last: number };
  samples: MemoryPoint[];
  /** Reply latency of each answered turn (ms), in order. */
  endToEndMs: number[];
}

interface MemoryPoint {
  atMin: number;
  heapMb: number;
  externalMb: number;
  rssMb: number;
}

const memoryLine = /^voice_avatar_job_memory_bytes\{job="[^"]*",area="(heap|external|rss)"\} (\S+)$/;
const area = z.enum(['heap', 'external', 'rss']);

/** The running job's memory, from the worker's /metrics (one job in this bench). */
async function scrapeJobMemory(port: number): Promise<Omit<MemoryPoint, 'atMin'> | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const found: Partial<Record<z.infer<typeof area>, number>> = {};
  for (const line of text.split('\n')) {
    const m = memoryLine.exec(line);
    if (m) found[area.parse(m[1])] = Number(m[2]) / 2 ** 20;
  }
  if (found.heap === undefined || found.external === undefined || found.rss === undefined) return undefined;
  return { heapMb: found.heap, externalMb: found.external, rssMb: found.rss };
}

/** The cloud fakes and avatar profile a family needs, as the worker's environment. */
async function startFamily(family: Family, server: Awaited<ReturnType<typeof startTestLiveKitServer>>, avatarsDir: string) {
  const closers: (() => Promise<unknown>)[] = [];
  /**
   * The remote family's avatar (the provider fake's participant) publishes video only, so its
   * reply is timed where it starts playing the agent's speech (lk.audio_stream), not at the user.
   */
  const avatars: FakeAvatarParticipant[] = [];
  const deepgram = await startFakeDeepgram({ transcripts: () => QUESTION });
  const openai = await startFakeOpenAI({ transcripts: () => QUESTION, reply: REPLY });
  closers.push(() => deepgram.close(), () => openai.close());
  const env: Record<string, string> = {
    DEEPGRAM_API_KEY: 'dg-long-call-123',
    OPENAI_API_KEY: 'sk-long-call-123',
    STT_PROVIDER: 'deepgram',
    STT_BASE_URL: deepgram.baseUrl,
    LLM_BASE_URL: openai.baseURL,
    TTS_PROVIDER: 'openai',
    TTS_BASE_URL: openai.baseURL,
    AVATAR: 'default',
  };
  const profile = async (json: Record<string, unknown>) => {
    await mkdir(join(avatarsDir, 'long-call'), { recursive: true });
    await writeFile(join(avatarsDir, 'long-call', 'avatar.json'), JSON.stringify(json));
    env.AVATAR = 'long-call';
  };
  if (family === 'openai-stt') Object.assign(env, { STT_PROVIDER: 'openai', STT_BASE_URL: openai.baseURL });
  if (family === 'elevenlabs-tts') {
    const eleven = await startFakeElevenLabs({});
    closers.push(() => eleven.close());
    Object.assign(env, { TTS_PROVIDER: 'elevenlabs', ELEVENLABS_API_KEY: 'el-long-call-123', TTS_BASE_URL: eleven.baseURL });
  }
  if (family === 'remote') {
    const runner = await startFakeSelfhosted({
      apiKey: KEY,
      livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret },
      joinAvatar: async ({ url, token }) => {
        const avatar = await startFakeAvatar({ url, token });
        avatars.push(avatar);
        closers.push(() => avatar.leave());
        return avatar;
      },
    });
    closers.push(() => runner.close());
    env.AVATAR_LAUNCH_SECRET = KEY;
    await profile({ adapter: 'selfhosted', apiUrl: runner.baseUrl, joinTimeoutMs: 20_000 });
  }
  if (family === 'renderer') {
    const { renderer, url } = await startFakeRenderer();
    closers.push(() => renderer.close());
    await profile({ adapter: 'diffusion', url, avatarId: 'reference', width: 512, height: 512, fps: 25, frameFormat: 'jpeg' });
  }
  const replyAt =
    family === 'remote'
      ? (after: number) => avatars.flatMap((a) => a.segments).map((s) => s.playStartAt ?? s.firstAudioAt).find((at): at is number => at !== undefined && at > after)
      : undefined;
  return { env, replyAt, close: () => Promise.all(closers.map((c) => c().catch(() => undefined))) };
}

export async function benchLongCall(opts: { minutes: number; family: Family; snapshots?: boolean; allocator?: Allocator }): Promise<LongCallResult> {
  const allocator = opts.allocator ?? 'glibc';
  const preload: Record<string, string> = allocator === 'jemalloc' ? { LD_PRELOAD: jemallocPath() } : {};
  const { minutes, family } = opts;
  const server = await startTestLiveKitServer({ departureTimeoutS: 1 });
  // Stands in for LiveKit Cloud's inference gateway (dev mode would try it): refuses everything.
  const inference = await startLoopbackServer(
    (_req, res) => void res.writeHead(503).end(),
    (_req, socket) => void socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
  );
  const scratch = await mkdtemp(join(tmpdir(), 'long-call-'));
  const avatarsDir = join(scratch, 'avatars');
  await mkdir(join(avatarsDir, 'default'), { recursive: true });
  await writeFile(join(avatarsDir, 'default', 'avatar.json'), JSON.stringify({ adapter: 'builtin' }));
  const snapshotDir = join(scratch, 'snapshots');
  if (opts.snapshots) await mkdir(snapshotDir);
  const fam = await startFamily(family, server, avatarsDir);
  const metricsPort = await freePort();
  const worker = startWorkerProcess(
    {
      LIVEKIT_URL: server.url,
      LIVEKIT_API_KEY: server.apiKey,
      LIVEKIT_API_SECRET: server.apiSecret,
      LIVEKIT_INFERENCE_URL: `http://127.0.0.1:${inference.port}`,
      AVATARS_DIR: avatarsDir,
      AGENT_GREETING: '',
      LOG_LEVEL: 'warn',
      METRICS_PORT: String(metricsPort),
      [MEMORY_GC_ENV]: '1',
      [MEMORY_INTERVAL_ENV]: String(SAMPLE_MS),
      ...(opts.snapshots ? { [MEMORY_SNAPSHOT_DIR_ENV]: snapshotDir } : {}),
      ...fam.env,
      ...preload,
    },
    'dev',
  );
  const recorders: Recorder<ReceivedAudioFrame>[] = [];
  const states: { state: string; at: number }[] = [];
  const samples: MemoryPoint[] = [];
  const endToEnd: number[] = [];
  let failedTurns = 0;
  let sampler: NodeJS.Timeout | undefined;
  const mic = new Microphone();
  try {
    await waitUntil(() => server.workers().length > 0, 90_000, 'the worker to register with the test server');
    // Audio only: decoding the avatar's video here would take CPU from the job under test.
    const user = await connectClient(server, { identity: 'user', room: `long-call-${family}` }, { autoSubscribe: false });
    user.room.on(RoomEvent.TrackPublished, (publication) => {
      if (publication.kind === TrackKind.KIND_AUDIO) publication.setSubscribed(true);
    });
    user.room.on(RoomEvent.ParticipantAttributesChanged, (changed, participant) => {
      const state = changed['lk.agent.state'];
      if (state && participant.identity !== 'user') states.push({ state, at: now() });
    });
    // The agent's voice, or the remote avatar's: whichever participant speaks back.
    user.room.on(RoomEvent.TrackSubscribed, (track) => {
      if (track.kind === TrackKind.KIND_AUDIO) recorders.push(recordAudio(track as RemoteTrack));
    });
    user.room.registerByteStreamHandler('lk.agent.session', () => undefined);
    user.room.registerTextStreamHandler('lk.transcription', () => undefined);
    await mic.publish(user.room);
    await waitUntil(() => (recorders.length > 0 || fam.replyAt !== undefined) && states.some((s) => s.state === 'listening'), 90_000, 'the agent to listen and its audio to arrive').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; worker output:\n${worker.tail(30)}`);
    });

    const question = await speechWithSilence(QUESTION, { sampleRate: Microphone.SAMPLE_RATE, trailMs: 300 });
    const t0 = now();
    const atMin = () => (now() - t0) / 60_000;
    sampler = setInterval(() => {
      void scrapeJobMemory(metricsPort)
        .then((m) => {
          const last = samples.at(-1);
          if (m && (!last || last.heapMb !== m.heapMb || last.rssMb !== m.rssMb)) samples.push({ atMin: atMin(), ...m });
        })
        .catch(() => undefined);
    }, SAMPLE_MS / 2);
    const snapshot = async (n: number) => {
      await writeFile(join(snapshotDir, 'request'), '');
      await waitUntil(() => existsSync(join(snapshotDir, `job-${n}.heapsnapshot`)) && !existsSync(join(snapshotDir, 'request')), 120_000, `heap snapshot ${n}`);
      await sleep(3_000); // writeHeapSnapshot is synchronous, but let the file settle before reading
    };
    let snapped = 0;
    const pauseMs = family === 'silence' ? 55_000 : 2_000;
    while (atMin() < minutes) {
      if (opts.snapshots && snapped === 0 && atMin() >= WARMUP_MIN + 0.5) await snapshot(++snapped);
      if (opts.snapshots && snapped === 1 && atMin() >= minutes - 1) await snapshot(++snapped);
      const endAt = await mic.play(question.samples).done;
      const reply = fam.replyAt ? await firstOf(() => fam.replyAt!(endAt), 20_000) : await firstLoud(recorders, endAt, 20_000);
      if (reply === undefined) {
        failedTurns++;
      } else {
        endToEnd.push(reply - endAt);
        // The reply is over when the agent listens again (bounded: a stuck state must not stall the bench).
        await waitUntil(() => states.some((s) => s.state === 'listening' && s.at > reply), 30_000, 'the reply to end').catch(() => undefined);
      }
      process.stderr.write(`\rlong call (${family}): ${atMin().toFixed(1)}/${minutes} min, ${endToEnd.length} turns, ${failedTurns} failed, job heap ${samples.at(-1)?.heapMb.toFixed(1) ?? '?'} MB   `);
      await sleep(pauseMs * (0.5 + Math.random()));
    }
    // The last sample after the last turn.
    await sleep(SAMPLE_MS * 1.5);
    process.stderr.write('\n');
    await user.room.disconnect();
    const result = report(family, allocator, minutes, samples, endToEnd, failedTurns);
    if (opts.snapshots && snapped === 2) {
      const [a, b] = [await countHeap(join(snapshotDir, 'job-1.heapsnapshot')), await countHeap(join(snapshotDir, 'job-2.heapsnapshot'))];
      console.log('heap snapshot diff (job process, after warm-up → one minute before the end), by constructor:');
      for (const row of heapGrowth(a, b)) console.log(`  ${row.name.slice(0, 40).padEnd(40)} ${signed(row.count, 0).padStart(8)} objects ${signed(row.bytes / 1024, 0).padStart(8)} KB`);
      // Kept for a retainer walk (bench/heap-retainers.ts), which needs both files.
      const kept = join(OUT, 'snapshots', family);
      await mkdir(kept, { recursive: true });
      for (const n of [1, 2]) await copyFile(join(snapshotDir, `job-${n}.heapsnapshot`), join(kept, `job-${n}.heapsnapshot`));
      console.log(`snapshots: ${kept.replace(REPO, '')}/job-{1,2}.heapsnapshot`);
    }
    await plot(result);
    return result;
  } finally {
    clearInterval(sampler);
    await Promise.all(recorders.map((r) => r.stop()));
    await mic.stop().catch(() => undefined);
    await worker.stop(30_000).catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    await Promise.all([server.close(), inference.close(), fam.close()]);
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The first defined answer of `find`, polled every 10 ms for up to `ms`. */
async function firstOf(find: () => number | undefined, ms: number): Promise<number | undefined> {
  const deadline = now() + ms;
  while (now() < deadline) {
    const at = find();
    if (at !== undefined) return at;
    await sleep(10);
  }
  return undefined;
}

/** When the first loud frame after `after` arrived at the user, from any speaking participant. */
function firstLoud(recorders: Recorder<ReceivedAudioFrame>[], after: number, ms: number): Promise<number | undefined> {
  // Search from the end: frames are in arrival order, and only the newest can be after `after`.
  const find = () => {
    let best: number | undefined;
    for (const r of recorders) {
      for (let i = r.frames.length - 1; i >= 0 && r.frames[i]!.at > after; i--) if (r.frames[i]!.rms > LOUD) best = Math.min(best ?? Infinity, r.frames[i]!.at);
    }
    return best;
  };
  return firstOf(find, ms);
}

function report(family: Family, allocator: Allocator, minutes: number, samples: MemoryPoint[], endToEnd: number[], failedTurns: number): LongCallResult {
  const settled = samples.filter((s) => s.atMin >= WARMUP_MIN);
  // Even after a full GC, external memory swings by tens of MB with what is in flight at that
  // instant (video frames held for A/V sync: 1 MB each at 512²), so the slope is fitted through
  // each minute's lowest sample, as the job's own warning does (MemoryTrend).
  const MB = 2 ** 20;
  const fitAfter = (warmupMin: number) => {
    const trend = new MemoryTrend({ warmupMs: warmupMin * 60_000, minFitMs: 2 * 60_000, maxMinutes: Infinity });
    for (const s of samples) trend.add(s.atMin * 60_000, { heapBytes: s.heapMb * MB, externalBytes: s.externalMb * MB, rssBytes: s.rssMb * MB });
    return trend.growth();
  };
  const growth = fitAfter(WARMUP_MIN);
  if (!growth) throw new Error(`long call (${family}): under ${WARMUP_MIN + 2} minutes of memory samples; run it longer`);
  const slopes = { heap: growth.heap, external: growth.external, rss: growth.rss };
  // A one-time step early in the call (RSS reaching its working size a minute or two in) reads as
  // growth in a fit from minute 1; the second half's slope says whether it keeps growing.
  const secondHalf = fitAfter(samples.at(-1)!.atMin / 2);
  const k = Math.min(5, Math.floor(endToEnd.length / 2));
  const latency = { first: medianP95(endToEnd.slice(0, k)).median, last: medianP95(endToEnd.slice(-k)).median };
  const first = settled[0]!;
  const last = samples.at(-1)!;
  console.log(`\n## Long call: ${family}${allocator === 'glibc' ? '' : ` (${allocator})`}, ${last.atMin.toFixed(1)} min in one job process (${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)})`);
  console.log(`${endToEnd.length} turns answered, ${failedTurns} unanswered; job memory after a full GC every ${SAMPLE_MS / 1000} s`);
  console.log(`${'MB'.padEnd(10)} ${'start'.padStart(8)} ${`min ${WARMUP_MIN}`.padStart(8)} ${'end'.padStart(8)} ${'MB/hour after min 1'.padStart(20)} ${'second half'.padStart(12)}  (fitted through each minute's lowest sample)`);
  for (const [name, key, area] of [['heap', 'heapMb', 'heap'], ['external', 'externalMb', 'external'], ['rss', 'rssMb', 'rss']] as const) {
    const late = secondHalf ? signed(secondHalf[area]) : '–';
    console.log(`${name.padEnd(10)} ${samples[0]![key].toFixed(1).padStart(8)} ${first[key].toFixed(1).padStart(8)} ${last[key].toFixed(1).padStart(8)} ${signed(slopes[area]).padStart(20)} ${late.padStart(12)}`);
  }
  console.log(`reply latency (end of question → first loud reply audio at the user), median of the first ${k} turns ${latency.first.toFixed(0)} ms, of the last ${k} ${latency.last.toFixed(0)} ms`);
  return {
    family,
    allocator,
    minutes,
    turns: endToEnd.length,
    failedTurns,
    slopes,
    ...(secondHalf ? { secondHalfSlopes: { heap: secondHalf.heap, external: secondHalf.external, rss: secondHalf.rss } } : {}),
    latency,
    samples,
    endToEndMs: endToEnd.map(Math.round),
  };
}

async function plot(r: LongCallResult): Promise<void> {
  const x0 = WARMUP_MIN;
  const x1 = r.samples.at(-1)!.atMin;
  const settled = r.samples.filter((s) => s.atMin >= WARMUP_MIN);
  // The plotted trend has the reported slope (per-minute floors), through the samples' mean.
  const trend = (k: 'heapMb' | 'externalMb' | 'rssMb', mbPerHour: number) => {
    const mx = settled.reduce((a, s) => a + s.atMin, 0) / settled.length;
    const my = settled.reduce((a, s) => a + s[k], 0) / settled.length;
    return { slope: mbPerHour / 60, intercept: my - (mbPerHour / 60) * mx, x0, x1 };
  };
  const name = r.allocator === 'glibc' ? r.family : `${r.family}-${r.allocator}`;
  const base = join(DOCS, `long-call-${name}`);
  const out = await writeLinePlot(
    {
      title: `One ${r.family} call${r.allocator === 'glibc' ? '' : ` (${r.allocator})`}: job memory after full GC (${r.turns} turns)`,
      xLabel: 'minutes',
      yLabel: 'MB',
      series: [
        { name: `RSS (${signed(r.slopes.rss)} MB/h)`, color: '#1f77b4', points: r.samples.map((s) => ({ x: s.atMin, y: s.rssMb })), trend: trend('rssMb', r.slopes.rss) },
        { name: `V8 heap used (${signed(r.slopes.heap)} MB/h)`, color: '#d62728', points: r.samples.map((s) => ({ x: s.atMin, y: s.heapMb })), trend: trend('heapMb', r.slopes.heap) },
        { name: `external (${signed(r.slopes.external)} MB/h)`, color: '#2ca02c', points: r.samples.map((s) => ({ x: s.atMin, y: s.externalMb })), trend: trend('externalMb', r.slopes.external) },
      ],
    },
    base,
  );
  await mkdir(OUT, { recursive: true });
  await writeFile(join(OUT, `long-call-${name}.json`), JSON.stringify(r, null, 1));
  console.log(`plot: ${out.png.replace(REPO, '')} (samples in bench/out/long-call-${name}.json)`);
}

function signed(v: number, digits = 1): string {
  return `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
}

/** `--minutes N --family F --snapshots`, falling back to LONG_CALL_MINUTES / LONG_CALL_FAMILY. */
export function parseLongCallArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { minutes: number; families: Family[]; snapshots: boolean; allocator: Allocator } {
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const minutes = z.coerce.number().positive().parse(flag('minutes') ?? env.LONG_CALL_MINUTES ?? 10);
  const families = z.array(z.enum(FAMILIES)).min(1).parse((flag('family') ?? env.LONG_CALL_FAMILY ?? 'default').split(',').map((f) => f.trim()));
  const allocator = z.enum(ALLOCATORS, { error: '--allocator must be glibc or jemalloc' }).parse(flag('allocator') ?? 'glibc');
  return { minutes, families, snapshots: argv.includes('--snapshots'), allocator };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = parseLongCallArgs(process.argv.slice(2));
  for (const family of args.families) await benchLongCall({ minutes: args.minutes, family, snapshots: args.snapshots, allocator: args.allocator });
  await dispose();
  process.exit(0);
}

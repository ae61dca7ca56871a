import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { linearFit } from './linear-fit.js';

/**
 * One conversation's memory over its life: the job process's V8 heap, external memory and RSS,
 * sampled every few seconds, sent to /metrics (per conversation) and watched for growth. A call
 * that keeps what it has processed grows linearly with its length (issue 16: 0.4 GB per hour of
 * talk before the fixes), which a per-call snapshot cannot tell from a large but flat call.
 */

export interface MemorySample {
  heapBytes: number;
  externalBytes: number;
  rssBytes: number;
}

export type MemoryArea = 'heap' | 'external' | 'rss';

/** Growth in MB per hour, fitted over the call so far (after its warm-up). */
export interface MemoryGrowth {
  heap: number;
  external: number;
  rss: number;
  /** Minutes of the call the fit covers. */
  minutes: number;
}

/**
 * The environment variable that makes a job run a full GC before each sample, so the bench reads
 * live memory rather than garbage not yet collected. Not a setting: only bench/long-call.ts sets
 * it; a GC on a job's heap pauses its audio for tens of milliseconds.
 */
export const MEMORY_GC_ENV = 'VOICE_AVATAR_MEMORY_SAMPLE_GC';
/** How often (ms) a job samples its memory; the bench shortens it. Not a setting either. */
export const MEMORY_INTERVAL_ENV = 'VOICE_AVATAR_MEMORY_SAMPLE_MS';
/**
 * A folder where the bench asks for heap snapshots (`--snapshots`): when a file `request` appears
 * there, the job's next sample writes `job-<n>.heapsnapshot` beside it and removes the request.
 */
export const MEMORY_SNAPSHOT_DIR_ENV = 'VOICE_AVATAR_MEMORY_SNAPSHOT_DIR';

const MB = 2 ** 20;

/**
 * Samples → growth per hour. Without a forced GC the heap is a sawtooth (garbage piles up between
 * collections), so each minute counts by its lowest sample (what survived the minute's GCs), and
 * the line is fitted through those floors. The first `warmupMs` (model loading, JIT, buffers
 * growing to their working size) is not growth and is left out.
 */
export class MemoryTrend {
  readonly #warmupMs: number;
  readonly #minFitMs: number;
  readonly #maxMinutes: number;
  #t0: number | undefined;
  /** Per minute of the call after warm-up: the lowest sample in it. */
  readonly #floors = new Map<number, MemorySample>();

  constructor(opts: { warmupMs?: number; minFitMs?: number; maxMinutes?: number } = {}) {
    this.#warmupMs = opts.warmupMs ?? 60_000;
    // A slope over a few minutes is mostly noise (a buffer that grew once); ask for ten.
    this.#minFitMs = opts.minFitMs ?? 10 * 60_000;
    // The last hour: a call that leaked early and then stopped should stop being flagged.
    this.#maxMinutes = opts.maxMinutes ?? 60;
  }

  add(atMs: number, sample: MemorySample): void {
    this.#t0 ??= atMs;
    const since = atMs - this.#t0;
    if (since < this.#warmupMs) return;
    const minute = Math.floor(since / 60_000);
    const floor = this.#floors.get(minute);
    this.#floors.set(
      minute,
      floor
        ? { heapBytes: Math.min(floor.heapBytes, sample.heapBytes), externalBytes: Math.min(floor.externalBytes, sample.externalBytes), rssBytes: Math.min(floor.rssBytes, sample.rssBytes) }
        : { ...sample },
    );
    for (const m of this.#floors.keys()) if (m <= minute - this.#maxMinutes) this.#floors.delete(m);
  }

  /** Undefined until enough of the call (after warm-up) has been seen. */
  growth(): MemoryGrowth | undefined {
    const minutes = [...this.#floors.keys()].sort((a, b) => a - b);
    if (minutes.length < 2 || (minutes.at(-1)! - minutes[0]! + 1) * 60_000 < this.#minFitMs) return undefined;
    const hours = minutes.map((m) => m / 60);
    const fit = (area: keyof MemorySample) => linearFit(hours, minutes.map((m) => this.#floors.get(m)![area] / MB)).slope;
    return { heap: fit('heapBytes'), external: fit('externalBytes'), rss: fit('rssBytes'), minutes: minutes.at(-1)! - minutes[0]! + 1 };
  }
}

/** A full GC on demand, without starting Node with --expose-gc (the flag reaches new contexts). */
export function fullGc(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

export function readMemory(): MemorySample {
  const m = process.memoryUsage();
  return { heapBytes: m.heapUsed, externalBytes: m.external, rssBytes: m.rss };
}

export interface WatchJobMemoryOptions {
  /** Where each sample goes (the job reporter → /metrics). */
  report: (sample: MemorySample) => void;
  /** Called when heap or external memory grows faster than `warnMbPerHour`; at most once per `warnEveryMs`. */
  warn: (growth: MemoryGrowth, area: Exclude<MemoryArea, 'rss'>) => void;
  /** 0: never warn. */
  warnMbPerHour: number;
  intervalMs?: number;
  warnEveryMs?: number;
  /** Full GC before each sample (bench only: it pauses the job). */
  gcFirst?: boolean;
  /** Heap snapshots on request (bench only); see MEMORY_SNAPSHOT_DIR_ENV. */
  snapshotDir?: string;
  trend?: MemoryTrend;
  now?: () => number;
}

/**
 * Samples this process's memory every `intervalMs` (default 15 s: a `process.memoryUsage()` call,
 * microseconds) and reports it; warns when the fitted growth passes the bound. Returns stop().
 * RSS is reported but not warned on: it follows heap and external, and the allocator keeps pages.
 */
export function watchJobMemory(opts: WatchJobMemoryOptions): () => void {
  const trend = opts.trend ?? new MemoryTrend();
  const now = opts.now ?? (() => performance.now());
  const warnEveryMs = opts.warnEveryMs ?? 10 * 60_000;
  let warnedAt = -Infinity;
  let snapshots = 0;
  const sample = () => {
    if (opts.gcFirst) fullGc();
    const request = opts.snapshotDir && join(opts.snapshotDir, 'request');
    if (request && existsSync(request)) {
      unlinkSync(request);
      writeHeapSnapshot(join(opts.snapshotDir!, `job-${++snapshots}.heapsnapshot`));
    }
    const m = readMemory();
    const at = now();
    opts.report(m);
    trend.add(at, m);
    if (opts.warnMbPerHour <= 0 || at - warnedAt < warnEveryMs) return;
    const growth = trend.growth();
    if (!growth) return;
    const area = growth.heap >= growth.external ? 'heap' : 'external';
    if (growth[area] > opts.warnMbPerHour) {
      warnedAt = at;
      opts.warn(growth, area);
    }
  };
  sample();
  const timer = setInterval(sample, opts.intervalMs ?? 15_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The bench's sampling overrides (see MEMORY_GC_ENV), from the environment; none in production. */
export function samplingFromEnv(env: NodeJS.ProcessEnv = process.env): { gcFirst: boolean; intervalMs?: number; snapshotDir?: string } {
  const ms = Number(env[MEMORY_INTERVAL_ENV]);
  const dir = env[MEMORY_SNAPSHOT_DIR_ENV];
  return { gcFirst: env[MEMORY_GC_ENV] === '1', ...(Number.isFinite(ms) && ms >= 500 ? { intervalMs: ms } : {}), ...(dir ? { snapshotDir: dir } : {}) };
}

/** The warning's words: which memory, how fast, over how long, and against which bound. */
export function describeGrowth(growth: MemoryGrowth, area: Exclude<MemoryArea, 'rss'>, boundMbPerHour: number): string {
  const f = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(0)}`;
  return (
    `this call's ${area} memory grows ${f(growth[area])} MB/h (heap ${f(growth.heap)}, external ${f(growth.external)}, rss ${f(growth.rss)} MB/h ` +
    `over ${growth.minutes} min after the first), above JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR=${boundMbPerHour}: something keeps what the call has processed`
  );
}

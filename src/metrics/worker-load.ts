import { cgroupCores, sampleCpuLoad } from './cpu-load.js';

export interface WorkerLoadOptions {
  /** Avatars rendering in this worker right now (from the metrics hub). */
  localRenders: () => number;
  /** How many local renders this worker carries at full load (WORKER_MAX_AVATAR_RENDERS, or derived from its cores). */
  maxLocalRenders: number;
  /** CPU busy fraction; sampled over the agents' load interval by default. */
  cpu?: () => Promise<number>;
}

/**
 * Conversations with a local avatar per core that this worker is sized for when
 * WORKER_MAX_AVATAR_RENDERS is not set. From `npm run bench` (concurrency, docs/deploy.md): frame
 * drops stay under ~1 % up to 4 conversations on 2 cores, before counting the room's VP8 encode.
 */
export const LOCAL_RENDERS_PER_CORE = 2;

export function defaultMaxLocalRenders(cores = cgroupCores()): number {
  return Math.max(1, Math.floor(cores * LOCAL_RENDERS_PER_CORE));
}

/**
 * The worker's load (0..1) as LiveKit sees it: the larger of the CPU in use and the share of its
 * render capacity already taken. CPU alone lags: a call that was just accepted costs nothing yet,
 * then a whole avatar render (video encode included) at once, so several jobs dispatched in a
 * burst would all land on a worker that looked idle. Counting renders reserves their cost at
 * dispatch; the CPU figure still catches what the count cannot see (a slow STT fallback, a
 * noisy neighbour). Remote avatars (the provider renders) are not counted.
 */
export function createWorkerLoad(opts: WorkerLoadOptions): () => Promise<number> {
  const cpu = opts.cpu ?? (() => sampleCpuLoad(2000));
  return async () => {
    const busy = await cpu().catch(() => 0);
    // Read after the CPU sample (which takes a while), so a call that started meanwhile counts.
    const renders = Math.min(1, opts.localRenders() / Math.max(1, opts.maxLocalRenders));
    return Math.max(renders, busy);
  };
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { checkBudget, STAGE_NAMES } from './latency-budget.js';
import type { TurnTimings } from './turn-timeline.js';

/** Every metric name starts with this. */
export const METRIC_PREFIX = 'voice_avatar_';

/**
 * Seconds, for a budget of about one second: fine steps up to 1 s where the budget is decided,
 * coarser to 3 s, then a catch-all (5 s) for turns that went badly wrong.
 */
export const LATENCY_BUCKETS_S = [0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 5];

/**
 * Why an avatar fell back, as a bounded label (never the raw error text, which would make one
 * time series per message). Classified from the reasons the registry records.
 */
export const FALLBACK_REASONS = ['profile_missing', 'profile_invalid', 'no_room', 'missing_key', 'provider_error', 'join_timeout', 'lost_mid_call', 'adapter_error'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

export function classifyFallbackReason(reason: string): FallbackReason {
  if (/no profile at|AVATAR=.*available:/i.test(reason)) return 'profile_missing';
  if (/avatar\.json|not valid JSON/i.test(reason)) return 'profile_invalid';
  if (/needs a (connected )?room/i.test(reason)) return 'no_room';
  if (/\b[A-Z][A-Z0-9_]*_(API_KEY|SECRET)\b.*\bnot set\b/.test(reason)) return 'missing_key';
  if (/\b(left|lost|disconnected|gone)\b/i.test(reason) && !/\bwithin\b/i.test(reason)) return 'lost_mid_call';
  if (/time(d)? ?out|did not (join|publish)|within \d/i.test(reason)) return 'join_timeout';
  if (/\b(HTTP )?(401|402|403|404|409|422|429|5\d\d)\b/.test(reason)) return 'provider_error';
  return 'adapter_error';
}

/**
 * The worker's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * tests and tools can make as many as they like). The main process owns one and serves it at
 * /metrics; job processes feed it over the metrics hub (see metrics-hub.ts).
 */
export class WorkerMetrics {
  readonly registry = new Registry();

  /** Each stage of a turn: time since the previous mark (see latency-budget.ts). */
  readonly stageSeconds = new Histogram({
    name: `${METRIC_PREFIX}turn_stage_seconds`,
    help: 'Duration of each stage of a turn, from the previous stage mark to this one (stt: end of speech to transcript; eot: to the end-of-turn decision; llm: to first LLM token; tts: to first TTS audio; avatar: to first avatar frame).',
    labelNames: ['stage'] as const,
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });

  readonly endToEndSeconds = new Histogram({
    name: `${METRIC_PREFIX}turn_end_to_end_seconds`,
    help: "End of the user's speech to the first avatar frame of the reply.",
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });

  readonly turns = new Counter({
    name: `${METRIC_PREFIX}turns_total`,
    help: 'Answered turns, by whether end to end stayed within LATENCY_BUDGET_MS.',
    labelNames: ['budget'] as const,
    registers: [this.registry],
  });

  readonly avatarFallbacks = new Counter({
    name: `${METRIC_PREFIX}avatar_fallbacks_total`,
    help: 'Avatars that could not start and were replaced by the next in their fallback chain, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly activeAvatars = new Gauge({
    name: `${METRIC_PREFIX}active_avatars`,
    help: 'Avatars showing in running conversations, by adapter (builtin, tavus, diffusion, none, ...).',
    labelNames: ['adapter'] as const,
    registers: [this.registry],
  });

  readonly avatarJoinSeconds = new Histogram({
    name: `${METRIC_PREFIX}avatar_join_seconds`,
    help: "Time for an avatar to be ready: a provider's participant joined and published video, a renderer's session started.",
    labelNames: ['adapter'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60],
    registers: [this.registry],
  });

  readonly avatarFrames = new Counter({
    name: `${METRIC_PREFIX}avatar_frames_total`,
    help: 'Frames of avatars rendered elsewhere and published here (GPU renderer, Unreal), by outcome: shown (rate = fps), dropped (late), repeated (the renderer stalled).',
    labelNames: ['adapter', 'outcome'] as const,
    registers: [this.registry],
  });

  /**
   * Each running conversation's job process memory (heap: V8 heap used; external: buffers and
   * native memory V8 accounts for; rss), labelled by job id; the series goes when the job ends.
   */
  readonly jobMemoryBytes = new Gauge({
    name: `${METRIC_PREFIX}job_memory_bytes`,
    help: "Memory of each running conversation's job process, by job and area (heap: V8 heap used, external: buffers and native memory, rss: resident set).",
    labelNames: ['job', 'area'] as const,
    registers: [this.registry],
  });

  readonly activeJobs = new Gauge({
    name: `${METRIC_PREFIX}active_jobs`,
    help: 'Conversations (job processes) running in this worker.',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // Zero series for every known label value, so dashboards and rate() see 0 rather than nothing.
    for (const stage of STAGE_NAMES) this.stageSeconds.zero({ stage });
    for (const budget of ['within', 'over'] as const) this.turns.inc({ budget }, 0);
    for (const reason of FALLBACK_REASONS) this.avatarFallbacks.inc({ reason }, 0);
    this.activeJobs.set(0);
    // Process metrics (CPU, memory, event loop lag) of the main process; job processes are not included.
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  observeTurn(turn: TurnTimings, budgetMs: number): void {
    const verdict = checkBudget(turn, budgetMs);
    for (const s of verdict.stages) this.stageSeconds.observe({ stage: s.stage }, s.ms / 1000);
    this.endToEndSeconds.observe(Math.max(0, verdict.totalMs) / 1000);
    this.turns.inc({ budget: verdict.over ? 'over' : 'within' });
  }

  avatarFallback(reason: string): void {
    this.avatarFallbacks.inc({ reason: classifyFallbackReason(reason) });
  }

  /** The text exposition format, as served at /metrics. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './fakes/net.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_SOCKET_ENV } from '../src/metrics/job-events.js';
import { describeGrowth, MemoryTrend, watchJobMemory, type MemorySample } from '../src/metrics/job-memory.js';
import { connectJobReporter } from '../src/metrics/job-reporter.js';
import { checkBudget, formatBudgetWarning, STAGE_NAMES, stageDeltas } from '../src/metrics/latency-budget.js';
import { decodeLatencyMessage, encodeLatencyMessage, LATENCY_TOPIC, latencyMessageSchema, toLatencyMessage } from '../src/metrics/latency-message.js';
import { startMetricsHub } from '../src/metrics/metrics-hub.js';
import { startMetricsServer } from '../src/metrics/metrics-server.js';
import { reportTurns, type PublishData } from '../src/metrics/report-turns.js';
import { loadConfig } from '../src/config/config.js';
import { TurnTimeline, type TurnTimings } from '../src/metrics/turn-timeline.js';
import { startWorkerMetricsEndpoint } from '../src/metrics/worker-endpoint.js';
import { createWorkerLoad, defaultMaxLocalRenders } from '../src/metrics/worker-load.js';
import { reportAvatarFrames } from '../src/metrics/avatar-frame-reporter.js';
import { sampleCpuLoad } from '../src/metrics/cpu-load.js';
import { classifyFallbackReason, WorkerMetrics } from '../src/metrics/worker-metrics.js';

/** A slow turn: the LLM's first token took 900 of its 1400 ms. */
const SLOW_LLM: TurnTimings = { endOfSpeechAt: 1_700_000_000_000, transcriptMs: 300, llmFirstTokenMs: 1200, ttsFirstAudioMs: 1350, firstAvatarFrameMs: 1400 };
/** A quick one, within any sensible budget. */
const QUICK: TurnTimings = { endOfSpeechAt: 1_700_000_010_000, transcriptMs: 150, llmFirstTokenMs: 350, ttsFirstAudioMs: 600, firstAvatarFrameMs: 640 };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempSocketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vam-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'hub.sock');
}

function fakeLogger() {
  const lines: { level: string; msg: string; obj?: unknown }[] = [];
  const at = (level: string) => (objOrMsg: unknown, msg?: string) =>
    void lines.push(typeof objOrMsg === 'string' ? { level, msg: objOrMsg } : { level, msg: msg ?? '', obj: objOrMsg });
  return { lines, logger: { info: at('info'), warn: at('warn'), debug: at('debug') } };
}

/** The value of one sample line of the exposition text, e.g. `x_count{stage="llm"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('latency budget', () => {
  it('splits a turn into stages, each timed from the previous mark', () => {
    expect(stageDeltas(SLOW_LLM).map((s) => [s.stage, s.ms])).toEqual([
      ['stt', 300],
      ['llm', 900],
      ['tts', 150],
      ['avatar', 50],
    ]);
  });

  it('a turn that waited on the end-of-turn decision blames eot, even when preemptive generation ran the LLM and TTS meanwhile', () => {
    // Preemptive: the reply was ready at 700 ms, but the turn detector only let go at 3000 ms.
    const waited: TurnTimings = { endOfSpeechAt: 1_700_000_020_000, transcriptMs: 250, endOfTurnMs: 3000, llmFirstTokenMs: 520, ttsFirstAudioMs: 700, firstAvatarFrameMs: 3060 };
    expect(stageDeltas(waited).map((s) => [s.stage, s.ms])).toEqual([
      ['stt', 250],
      ['eot', 2750],
      ['llm', 0],
      ['tts', 0],
      ['avatar', 60],
    ]);
    const verdict = checkBudget(waited, 1000);
    expect(verdict.slowest).toMatchObject({ stage: 'eot', from: 'transcript', to: 'end of turn' });
    expect(formatBudgetWarning(verdict)).toBe('turn over budget: 3060 ms > 1000 ms; slowest stage: eot 2750 ms (transcript → end of turn)');
    // Without preemption the providers' time after the decision is theirs.
    const sequential: TurnTimings = { ...waited, endOfTurnMs: 400, llmFirstTokenMs: 900, ttsFirstAudioMs: 1100, firstAvatarFrameMs: 1150 };
    expect(stageDeltas(sequential).map((s) => [s.stage, s.ms])).toEqual([
      ['stt', 250],
      ['eot', 150],
      ['llm', 500],
      ['tts', 200],
      ['avatar', 50],
    ]);
  });

  it('warns over budget and names the slowest stage', () => {
    const v = checkBudget(SLOW_LLM, 1000);
    expect(v).toMatchObject({ over: true, totalMs: 1400, budgetMs: 1000, slowest: { stage: 'llm', ms: 900 } });
    const line = formatBudgetWarning(v);
    expect(line).toContain('1400 ms > 1000 ms');
    expect(line).toMatch(/slowest stage: llm 900 ms \(transcript → first LLM token\)/);
  });

  it('is within budget at or under the limit', () => {
    expect(checkBudget(QUICK, 1000).over).toBe(false);
    expect(checkBudget({ ...QUICK, firstAvatarFrameMs: 1000 }, 1000).over).toBe(false);
  });

  it('lets a stage span a missing mark, and says so', () => {
    const { transcriptMs: _, ...noTranscript } = SLOW_LLM;
    const v = checkBudget(noTranscript, 1000);
    expect(v.slowest).toEqual({ stage: 'llm', from: 'end of speech', to: 'first LLM token', ms: 1200 });
  });

  it('never reports a negative stage when events arrive out of order', () => {
    const skewed: TurnTimings = { endOfSpeechAt: 0, transcriptMs: 500, llmFirstTokenMs: 450, ttsFirstAudioMs: 700, firstAvatarFrameMs: 720 };
    expect(stageDeltas(skewed).every((s) => s.ms >= 0)).toBe(true);
    expect(stageDeltas(skewed).find((s) => s.stage === 'tts')!.ms).toBe(200);
  });

  it('reportTurns logs each turn, warns over budget naming the stage, reports and publishes', async () => {
    const { lines, logger } = fakeLogger();
    const reported: TurnTimings[] = [];
    const published: { data: Uint8Array; options: { topic: string; reliable: boolean } }[] = [];
    const publish: PublishData = async (data, options) => void published.push({ data, options });
    const timeline = new TurnTimeline();
    reportTurns(timeline, {
      logger,
      budgetMs: 1000,
      reporter: { turn: (t) => void reported.push(t), avatarFallback: () => {}, avatar: () => {}, avatarFrames: () => {}, memory: () => {}, close: async () => {} },
      publish,
    });
    for (const t of [QUICK, SLOW_LLM]) {
      timeline.markEndOfSpeech(t.endOfSpeechAt);
      timeline.markTranscript(t.endOfSpeechAt + t.transcriptMs!);
      timeline.markLlmFirstToken(t.endOfSpeechAt + t.llmFirstTokenMs!);
      timeline.markTtsFirstAudio(t.endOfSpeechAt + t.ttsFirstAudioMs!);
      timeline.markFirstAvatarFrame(t.endOfSpeechAt + t.firstAvatarFrameMs);
    }
    expect(lines.filter((l) => l.level === 'info')).toHaveLength(2);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/over budget.*slowest stage: llm/);
    expect(warnings[0]!.obj).toMatchObject({ slowestStage: 'llm', slowestMs: 900 });
    expect(reported).toEqual([QUICK, SLOW_LLM]);
    expect(published.map((p) => p.options)).toEqual([
      { topic: 'avatar.latency', reliable: true },
      { topic: 'avatar.latency', reliable: true },
    ]);
    expect(published.map((p) => decodeLatencyMessage(p.data).turn)).toEqual([1, 2]);
    expect(decodeLatencyMessage(published[1]!.data)).toMatchObject({ overBudget: true, slowest: { stage: 'llm', ms: 900 } });
  });

  it('reads LATENCY_BUDGET_MS, METRICS_PORT and DRAIN_TIMEOUT_MS with their defaults', () => {
    const keys = { DEEPGRAM_API_KEY: 'dg-test-123456', OPENAI_API_KEY: 'sk-test-123456' };
    expect(loadConfig(keys).ops).toEqual({ latencyBudgetMs: 1000, metricsPort: 9464, drainTimeoutMs: 1_800_000, jobMemoryWarnMB: 1500, jobMemoryLimitMB: 0, jobMemoryGrowthWarnMBPerHour: 60, maxAvatarRenders: 0, health: { host: '0.0.0.0' } });
    expect(() => loadConfig({ ...keys, JOB_MEMORY_LIMIT_MB: '1000' })).toThrow(/JOB_MEMORY_LIMIT_MB \(1000\) must be above JOB_MEMORY_WARN_MB/);
    expect(loadConfig({ ...keys, LATENCY_BUDGET_MS: '800', METRICS_PORT: '0', DRAIN_TIMEOUT_MS: '' }).ops).toMatchObject({
      latencyBudgetMs: 800,
      metricsPort: 0,
      drainTimeoutMs: 1_800_000,
    });
    // Seconds where milliseconds are meant would drain in under two seconds: refused.
    expect(() => loadConfig({ ...keys, DRAIN_TIMEOUT_MS: '1800' })).toThrow(/DRAIN_TIMEOUT_MS.*milliseconds/);
  });
});

describe('latency message', () => {
  it('uses a topic of ours, outside LiveKit\'s lk. namespace', () => {
    expect(LATENCY_TOPIC).toBe('avatar.latency');
    expect(LATENCY_TOPIC.startsWith('lk.')).toBe(false);
  });

  it('validates with its schema and round-trips through bytes', () => {
    const msg = toLatencyMessage(SLOW_LLM, 3, 1000);
    expect(latencyMessageSchema.safeParse(msg).success).toBe(true);
    expect(msg).toEqual({
      type: 'turn_latency',
      v: 1,
      turn: 3,
      endOfSpeechAt: SLOW_LLM.endOfSpeechAt,
      marks: { transcriptMs: 300, llmFirstTokenMs: 1200, ttsFirstAudioMs: 1350, firstAvatarFrameMs: 1400 },
      totalMs: 1400,
      budgetMs: 1000,
      overBudget: true,
      slowest: { stage: 'llm', ms: 900 },
    });
    const bytes = encodeLatencyMessage(msg);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.byteLength).toBeLessThan(400);
    expect(decodeLatencyMessage(bytes)).toEqual(msg);
  });

  it('leaves out marks that were not seen', () => {
    const msg = toLatencyMessage({ endOfSpeechAt: 5, firstAvatarFrameMs: 700 }, 1, 1000);
    expect(msg.marks).toEqual({ firstAvatarFrameMs: 700 });
    expect(decodeLatencyMessage(encodeLatencyMessage(msg))).toEqual(msg);
  });

  it('rejects what is not a latency message', () => {
    const good = toLatencyMessage(QUICK, 1, 1000);
    const bad = [{ ...good, v: 2 }, { ...good, type: 'other' }, { ...good, marks: {} }, { ...good, slowest: { stage: 'dns', ms: 1 } }];
    for (const b of bad) expect(latencyMessageSchema.safeParse(b).success).toBe(false);
    expect(() => decodeLatencyMessage(new TextEncoder().encode('not json'))).toThrow();
  });

  it('names exactly the budget checker\'s stages', () => {
    const stageEnum = latencyMessageSchema.shape.slowest.unwrap().shape.stage.options;
    expect([...stageEnum]).toEqual([...STAGE_NAMES]);
  });
});

describe('Prometheus metrics', () => {
  it('records stage and end-to-end histograms and counts turns by budget', async () => {
    const m = new WorkerMetrics();
    m.observeTurn(SLOW_LLM, 1000);
    m.observeTurn(QUICK, 1000);
    const { body } = await m.exposition();
    expect(sample(body, 'voice_avatar_turn_stage_seconds_count{stage="llm"}')).toBe(2);
    expect(sample(body, 'voice_avatar_turn_stage_seconds_sum{stage="llm"}')).toBeCloseTo(0.9 + 0.2, 6);
    expect(sample(body, 'voice_avatar_turn_stage_seconds_count{stage="avatar"}')).toBe(2);
    expect(sample(body, 'voice_avatar_turn_end_to_end_seconds_count')).toBe(2);
    // 0.64 s and 1.4 s: one under the 1 s bucket, both under 1.5 s.
    expect(sample(body, 'voice_avatar_turn_end_to_end_seconds_bucket{le="1"}')).toBe(1);
    expect(sample(body, 'voice_avatar_turn_end_to_end_seconds_bucket{le="1.5"}')).toBe(2);
    expect(sample(body, 'voice_avatar_turns_total{budget="over"}')).toBe(1);
    expect(sample(body, 'voice_avatar_turns_total{budget="within"}')).toBe(1);
  });

  it('counts avatar fallbacks by a bounded reason, never the raw message', async () => {
    expect(classifyFallbackReason('AVATAR=nobody: no profile at avatars/nobody/avatar.json; available: default')).toBe('profile_missing');
    expect(classifyFallbackReason('avatars/x/avatar.json is not valid JSON: Unexpected token')).toBe('profile_invalid');
    expect(classifyFallbackReason('the builtin avatar needs a room or a media sink')).toBe('no_room');
    expect(classifyFallbackReason('GPU out of memory')).toBe('adapter_error');
    const m = new WorkerMetrics();
    m.avatarFallback('GPU out of memory at 0x7f3a');
    m.avatarFallback('AVATAR=nobody: no profile at avatars/nobody/avatar.json; available: default');
    const { body } = await m.exposition();
    expect(sample(body, 'voice_avatar_avatar_fallbacks_total{reason="adapter_error"}')).toBe(1);
    expect(sample(body, 'voice_avatar_avatar_fallbacks_total{reason="profile_missing"}')).toBe(1);
    expect(body).not.toContain('0x7f3a');
  });

  it('keeps each registry to itself', async () => {
    const a = new WorkerMetrics();
    const b = new WorkerMetrics();
    a.observeTurn(QUICK, 1000);
    expect(sample((await b.exposition()).body, 'voice_avatar_turn_end_to_end_seconds_count')).toBe(0);
  });

  it('serves the text exposition format at /metrics (server on port 0)', async () => {
    const m = new WorkerMetrics({ defaultMetrics: true });
    m.observeTurn(SLOW_LLM, 1000);
    const server = await startMetricsServer(m, { port: 0, host: '127.0.0.1' });
    cleanups.push(() => server.close());
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    for (const [name, type] of [
      ['voice_avatar_turn_stage_seconds', 'histogram'],
      ['voice_avatar_turn_end_to_end_seconds', 'histogram'],
      ['voice_avatar_turns_total', 'counter'],
      ['voice_avatar_avatar_fallbacks_total', 'counter'],
      ['voice_avatar_active_jobs', 'gauge'],
    ]) {
      expect(body).toContain(`# HELP ${name} `);
      expect(body).toContain(`# TYPE ${name} ${type}`);
    }
    expect(body).toContain('voice_avatar_process_cpu_seconds_total');
    expect(sample(body, 'voice_avatar_turn_stage_seconds_count{stage="llm"}')).toBe(1);
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
  });
});

describe('job processes → main process /metrics', () => {
  it('a job reports over the hub: turns land in the registry, the connection is the active job', async () => {
    const m = new WorkerMetrics();
    const hub = await startMetricsHub(m, { socketPath: tempSocketPath() });
    cleanups.push(() => hub.close());
    const reporter = connectJobReporter('AJ_test', { socketPath: hub.socketPath });
    reporter.turn(SLOW_LLM, 1000);
    reporter.avatarFallback('fancy', 'the builtin avatar needs a room or a media sink');
    await until(async () => sample((await m.exposition()).body, 'voice_avatar_turns_total{budget="over"}') === 1);
    const { body } = await m.exposition();
    expect(sample(body, 'voice_avatar_active_jobs')).toBe(1);
    expect(sample(body, 'voice_avatar_avatar_fallbacks_total{reason="no_room"}')).toBe(1);
    expect(hub.activeJobs).toBe(1);
    await reporter.close();
    await until(() => hub.activeJobs === 0);
    expect(sample((await m.exposition()).body, 'voice_avatar_active_jobs')).toBe(0);
  });

  it('counts the avatars rendering locally per job (not remote ones), follows fallbacks, and forgets a job that ends', async () => {
    const m = new WorkerMetrics();
    const hub = await startMetricsHub(m, { socketPath: tempSocketPath() });
    cleanups.push(() => hub.close());
    const a = connectJobReporter('AJ_a', { socketPath: hub.socketPath });
    const b = connectJobReporter('AJ_b', { socketPath: hub.socketPath });
    a.avatar('builtin', true, 120);
    b.avatar('tavus', false, 4200);
    await until(() => hub.activeJobs === 2);
    await until(async () => sample((await m.exposition()).body, 'voice_avatar_active_avatars{adapter="tavus"}') === 1);
    expect(hub.localRenders).toBe(1);
    // The provider's avatar left mid-call: job b now renders the builtin face itself.
    b.avatarFallback('tavus', 'tavus-avatar-agent left the room');
    b.avatar('builtin', true, 90);
    await until(() => hub.localRenders === 2);
    let body = (await m.exposition()).body;
    expect(sample(body, 'voice_avatar_active_avatars{adapter="builtin"}')).toBe(2);
    expect(sample(body, 'voice_avatar_active_avatars{adapter="tavus"}')).toBe(0);
    expect(sample(body, 'voice_avatar_avatar_fallbacks_total{reason="lost_mid_call"}')).toBe(1);
    expect(sample(body, 'voice_avatar_avatar_join_seconds_count{adapter="tavus"}')).toBe(1);
    await a.close();
    await until(() => hub.localRenders === 1);
    body = (await m.exposition()).body;
    expect(sample(body, 'voice_avatar_active_avatars{adapter="builtin"}')).toBe(1);
    await b.close();
    await until(() => hub.localRenders === 0);
  });

  it('counts the frames of a renderer-fed avatar by outcome (rate = fps), across a fallback', async () => {
    const m = new WorkerMetrics();
    const hub = await startMetricsHub(m, { socketPath: tempSocketPath() });
    cleanups.push(() => hub.close());
    const reporter = connectJobReporter('AJ_frames', { socketPath: hub.socketPath });
    cleanups.push(() => reporter.close());
    let stats = { shown: 0, dropped: 0, repeated: 0 };
    const gpu = { profile: { name: 'gpu', adapter: 'diffusion' }, stats: () => stats, close: async () => {} };
    const face = { profile: { name: 'face', adapter: 'builtin' }, close: async () => {} };
    const avatar = { handle: gpu as unknown } as { handle: import('../src/avatar/contract.js').AvatarHandle };
    const stop = reportAvatarFrames(avatar as never, reporter, 60_000);
    stats = { shown: 125, dropped: 3, repeated: 7 };
    stop();
    await until(async () => sample((await m.exposition()).body, 'voice_avatar_avatar_frames_total{adapter="diffusion",outcome="shown"}') === 125);
    const body = (await m.exposition()).body;
    expect(sample(body, 'voice_avatar_avatar_frames_total{adapter="diffusion",outcome="dropped"}')).toBe(3);
    expect(sample(body, 'voice_avatar_avatar_frames_total{adapter="diffusion",outcome="repeated"}')).toBe(7);
    // After a fallback to the builtin face (no stats), nothing more is counted, and nothing breaks.
    avatar.handle = face as never;
    const stop2 = reportAvatarFrames(avatar as never, reporter, 60_000);
    stop2();
    await new Promise((r) => setTimeout(r, 100));
    expect(sample((await m.exposition()).body, 'voice_avatar_avatar_frames_total{adapter="diffusion",outcome="shown"}')).toBe(125);
  });

  it('the load LiveKit sees is the larger of CPU and the render share, so a burst of calls cannot overfill a quiet worker', async () => {
    let renders = 0;
    let cpu = 0.1;
    const load = createWorkerLoad({ localRenders: () => renders, maxLocalRenders: 4, cpu: async () => cpu });
    expect(await load()).toBeCloseTo(0.1);
    renders = 3;
    expect(await load()).toBeCloseTo(0.75);
    cpu = 0.9;
    expect(await load()).toBeCloseTo(0.9);
    renders = 9;
    expect(await load()).toBe(1);
    // A CPU probe that fails does not take the worker out of rotation by itself.
    const broken = createWorkerLoad({ localRenders: () => 1, maxLocalRenders: 4, cpu: async () => Promise.reject(new Error('no /proc')) });
    expect(await broken()).toBeCloseTo(0.25);
    expect(defaultMaxLocalRenders(2)).toBe(4);
    expect(defaultMaxLocalRenders(0.5)).toBe(1);
    // The real probe answers a fraction.
    const real = await sampleCpuLoad(100);
    expect(real).toBeGreaterThanOrEqual(0);
    expect(real).toBeLessThanOrEqual(1);
  });

  it('classifies fallback reasons from the remote and renderer families', () => {
    expect(classifyFallbackReason('TAVUS_API_KEY is not set; set it in the environment')).toBe('missing_key');
    expect(classifyFallbackReason('tavus: 402 Payment Required: check your Tavus plan and credits')).toBe('provider_error');
    expect(classifyFallbackReason('hedra-avatar-agent did not publish video within 20000 ms')).toBe('join_timeout');
    expect(classifyFallbackReason('tavus-avatar-agent left the room')).toBe('lost_mid_call');
  });

  it('ignores malformed lines and keeps the connection', async () => {
    const m = new WorkerMetrics();
    const warnings: string[] = [];
    const hub = await startMetricsHub(m, { socketPath: tempSocketPath(), onWarning: (w) => warnings.push(w) });
    cleanups.push(() => hub.close());
    const { createConnection } = await import('node:net');
    const s = createConnection(hub.socketPath);
    cleanups.push(() => void s.destroy());
    s.write('{"type":"job","jobId":"x"}\nnot json\n{"type":"turn","turn":{"endOfSpeechAt":1}}\n');
    s.write(`${JSON.stringify({ type: 'turn', turn: QUICK, budgetMs: 1000 })}\n`);
    await until(async () => sample((await m.exposition()).body, 'voice_avatar_turns_total{budget="within"}') === 1);
    expect(warnings).toHaveLength(2);
    expect(hub.activeJobs).toBe(1);
  });

  it('without a hub a job reports nothing and nothing breaks', async () => {
    const saved = process.env[METRICS_SOCKET_ENV];
    delete process.env[METRICS_SOCKET_ENV];
    try {
      const r = connectJobReporter('AJ_none');
      r.turn(QUICK, 1000);
      await r.close();
    } finally {
      if (saved !== undefined) process.env[METRICS_SOCKET_ENV] = saved;
    }
    const errors: Error[] = [];
    const r = connectJobReporter('AJ_gone', { socketPath: join(tmpdir(), 'no-such-hub.sock'), onError: (e) => errors.push(e) });
    r.turn(QUICK, 1000);
    await until(() => errors.length === 1);
    r.turn(QUICK, 1000);
    await r.close();
  });

  it('a forked process finds the hub through the environment it inherits, and its death ends the job', async () => {
    const logger = fakeLogger().logger;
    const endpoint = await startWorkerMetricsEndpoint({ port: await freePort(), host: '127.0.0.1', logger, socketPath: tempSocketPath() });
    expect(endpoint).toBeDefined();
    cleanups.push(() => endpoint!.close());
    expect(process.env[METRICS_SOCKET_ENV]).toBe(endpoint!.hub.socketPath);
    // What a job process does, in a real child process: inherit the environment, connect, report.
    const reporterModule = resolve('src/metrics/job-reporter.ts');
    const code = `
      const { connectJobReporter } = await import(${JSON.stringify(reporterModule)});
      const r = connectJobReporter('AJ_child');
      r.turn(${JSON.stringify(SLOW_LLM)}, 1000);
      process.stdout.write('sent\\n');
      setInterval(() => {}, 1000); // stays up like a job in a call, until killed
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void child.kill('SIGKILL'));
    const url = `http://127.0.0.1:${endpoint!.server.port}/metrics`;
    const scrape = async () => (await fetch(url)).text();
    await until(async () => sample(await scrape(), 'voice_avatar_active_jobs') === 1, 20_000);
    await until(async () => sample(await scrape(), 'voice_avatar_turn_stage_seconds_count{stage="llm"}') === 1, 20_000);
    // A job process that dies (OOM kill, crash) no longer counts as active.
    child.kill('SIGKILL');
    await once(child, 'exit');
    await until(async () => sample(await scrape(), 'voice_avatar_active_jobs') === 0);
  });

  it('a port already in use is a warning, not a failure; port 0 in the settings disables it', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const { lines, logger } = fakeLogger();
    expect(await startWorkerMetricsEndpoint({ port, host: '127.0.0.1', logger, socketPath: tempSocketPath() })).toBeUndefined();
    expect(lines.some((l) => l.level === 'warn' && /METRICS_PORT/.test(l.msg))).toBe(true);
    expect(await startWorkerMetricsEndpoint({ port: 0, logger })).toBeUndefined();
  });
});

describe("a call's memory (issue 16)", () => {
  const MB = 2 ** 20;
  const BASE_ENV = { DEEPGRAM_API_KEY: 'dg-test-123456', OPENAI_API_KEY: 'sk-test-123456' };
  /** A job's memory at `minute` of a call: a sawtooth of garbage over a floor that grows `mbPerHour`. */
  const at = (minute: number, mbPerHour: number): MemorySample => ({
    heapBytes: (60 + (mbPerHour * minute) / 60 + ((minute * 7) % 5) * 3) * MB,
    externalBytes: 20 * MB,
    rssBytes: (300 + (mbPerHour * minute) / 60) * MB,
  });

  it('fits growth per hour through each minute\'s floor, after the first minute, once ten minutes are seen', () => {
    const flat = new MemoryTrend();
    const leaking = new MemoryTrend();
    for (let s = 0; s <= 30 * 60; s += 15) {
      // The first minute loads models and JITs: a jump there is not growth.
      const warm = s < 60 ? 40 * MB : 0;
      const m = s / 60;
      flat.add(s * 1000, { ...at(m, 0), heapBytes: at(m, 0).heapBytes + warm });
      leaking.add(s * 1000, at(m, 400));
      if (s === 9 * 60) expect(flat.growth()).toBeUndefined();
    }
    expect(Math.abs(flat.growth()!.heap)).toBeLessThan(5);
    expect(Math.abs(flat.growth()!.external)).toBeLessThan(1);
    expect(leaking.growth()!.heap).toBeGreaterThan(380);
    expect(leaking.growth()!.heap).toBeLessThan(420);
    expect(leaking.growth()!.minutes).toBe(30);
  });

  it('warns once per period, naming the area, the slope and the setting, only past the bound', () => {
    const warnings: string[] = [];
    let clock = 0;
    // A trend that has already seen a call leaking 400 MB/h of heap.
    const trend = new MemoryTrend();
    for (let s = 0; s <= 20 * 60; s += 15) trend.add(s * 1000, at(s / 60, 400));
    clock = 20 * 60_000;
    const stop = watchJobMemory({
      report: () => {},
      warn: (g, area) => warnings.push(describeGrowth(g, area, 60)),
      warnMbPerHour: 60,
      trend,
      now: () => clock,
      intervalMs: 3_600_000,
    });
    stop();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/heap memory grows \+\d{3} MB\/h .*JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR=60/);
    // A bound above the slope (or 0) says nothing.
    const quiet: string[] = [];
    watchJobMemory({ report: () => {}, warn: () => quiet.push('x'), warnMbPerHour: 1000, trend, now: () => clock, intervalMs: 3_600_000 })();
    watchJobMemory({ report: () => {}, warn: () => quiet.push('x'), warnMbPerHour: 0, trend, now: () => clock, intervalMs: 3_600_000 })();
    expect(quiet).toEqual([]);
  });

  it("puts each running job's heap, external and RSS in /metrics, and drops the series when the job ends", async () => {
    const m = new WorkerMetrics();
    const hub = await startMetricsHub(m, { socketPath: tempSocketPath() });
    cleanups.push(() => hub.close());
    const reporter = connectJobReporter('AJ_mem', { socketPath: hub.socketPath });
    reporter.memory({ heapBytes: 61 * MB, externalBytes: 21 * MB, rssBytes: 320 * MB });
    await until(async () => sample((await m.exposition()).body, 'voice_avatar_job_memory_bytes{job="AJ_mem",area="heap"}') === 61 * MB);
    const { body } = await m.exposition();
    expect(sample(body, 'voice_avatar_job_memory_bytes{job="AJ_mem",area="external"}')).toBe(21 * MB);
    expect(sample(body, 'voice_avatar_job_memory_bytes{job="AJ_mem",area="rss"}')).toBe(320 * MB);
    await reporter.close();
    await until(() => hub.activeJobs === 0);
    expect((await m.exposition()).body).not.toContain('job="AJ_mem"');
  });

  it('reads JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR (default 60, 0 turns the warning off)', () => {
    expect(loadConfig({ ...BASE_ENV }).ops.jobMemoryGrowthWarnMBPerHour).toBe(60);
    expect(loadConfig({ ...BASE_ENV, JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR: '0' }).ops.jobMemoryGrowthWarnMBPerHour).toBe(0);
    expect(() => loadConfig({ ...BASE_ENV, JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR: 'fast' })).toThrow(/JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR/);
  });
});

/**
 * Child of bench/concurrency.ts: one worker process carrying N conversations at once. Each
 * conversation asks one warm-up question, then `turns` measured ones, back to back; their starts
 * are spread over one turn so the N turns do not all land on the same instant. Reports the turns'
 * timings, the process's CPU and memory, event-loop delay and the avatar frames' fate.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { initializeLogger } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { dispose } from '@livekit/rtc-node';
import { createLogger } from '../../src/logging.js';
import type { TurnTimings } from '../../src/metrics/turn-timeline.js';
import { childInput, collectGarbage, memoryMb, sendToParent } from './child.js';
import { startBenchConversation, type BenchConversation } from './conversation.js';
import { concurrencyInput, type ConcurrencyResult } from './messages.js';
import type { FrameCounts } from './roomless-sink.js';

/** About how long one turn takes (question, turn decision, reply): the span starts are spread over. */
const TURN_PERIOD_MS = 6000;

async function main(): Promise<void> {
  const input = childInput(concurrencyInput);
  initializeLogger({ pretty: false, level: 'error' });
  const logger = createLogger({ level: 'error', secrets: [] });

  // Warm the code paths, on a VAD of its own: silero's VAD keeps every stream (and so every
  // session) it made, and the warm-up must not count as one of the N.
  const warm = await startBenchConversation(input.env, logger, await silero.VAD.load(), input.kind);
  await warm.turn();
  await warm.close();
  collectGarbage();
  const baseline = memoryMb();

  const conversations: BenchConversation[] = [];
  for (let i = 0; i < input.conversations; i++) conversations.push(await startBenchConversation(input.env, logger, undefined, input.kind));

  const loop = monitorEventLoopDelay({ resolution: 10 });
  let peakRssMb = 0;
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, memoryMb().rssMb)), 250);
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();

  const turns: TurnTimings[] = [];
  let failedTurns = 0;
  await Promise.all(
    conversations.map(async (c, i) => {
      await sleep((i * TURN_PERIOD_MS) / input.conversations);
      for (let k = 0; k <= input.turns; k++) {
        try {
          const t = await c.turn();
          if (k > 0) turns.push(t); // the first is a warm-up for this session
        } catch (err) {
          failedTurns++;
          process.stderr.write(`conversation ${i}, turn ${k}: ${(err as Error).message}\n`);
        }
      }
    }),
  );

  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  clearInterval(sampler);
  collectGarbage();
  const settled = memoryMb();
  const frames: FrameCounts = { ticks: 0, frames: 0, dropped: 0, late: 0, worstLateMs: 0 };
  for (const c of conversations) {
    const k = c.sink.counts;
    frames.ticks += k.ticks;
    frames.frames += k.frames;
    frames.dropped += k.dropped;
    frames.late += k.late;
    frames.worstLateMs = Math.max(frames.worstLateMs, Math.round(k.worstLateMs));
  }
  const errors = conversations.reduce((n, c) => n + c.errors, 0);
  await Promise.all(conversations.map((c) => c.close()));

  await sendToParent({
    conversations: input.conversations,
    turns,
    failedTurns,
    errors,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    eventLoopP99Ms: Math.round(loop.percentile(99) / 1e6),
    eventLoopMaxMs: Math.round(loop.max / 1e6),
    frames,
    peakRssMb,
    settled,
    baseline,
  } satisfies ConcurrencyResult);
}

await main();
await dispose();
process.exit(0);

/**
 * What kept a job's event loop busy, from the CPU profile a bench asked it to write
 * (VOICE_AVATAR_CPU_PROFILE_DIR, src/metrics/job-cpu-profile.ts): the share of wall time the main
 * thread was busy, the CPU time under each function (inclusive, top N), and the longest busy
 * stretches (consecutive samples with no idle between them: what a message arriving then waited).
 *
 * Run: npx tsx bench/cpu-profile-summary.ts job-123.cpuprofile [--top 30]
 *   e.g. after npm run bench:turns -- --config ours --turns 10 --set VOICE_AVATAR_CPU_PROFILE_DIR=/tmp/prof
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';

/** V8's profile (Chrome DevTools' .cpuprofile), the parts read here. */
const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});
export type CpuProfile = z.infer<typeof profileSchema>;

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  /** Inclusive CPU time (ms) per function, largest first. */
  functions: { name: string; ms: number }[];
  /** Busy stretches, longest first: their length (ms) and what they spent the most time in. */
  stretches: { ms: number; atMs: number; mostly: string }[];
}

/** Node's own frames between the event loop and the work it runs (skipped to name the work). */
const EVENT_LOOP_FRAME = /^\((root|program)\)|^(processTimers|listOnTimeout|processImmediate|processTicksAndRejections|runMicrotasks|runNextTicks|callbackTrampoline)( |$)/;

/** Samples closer than this with no idle sample between them belong to one busy stretch. */
const SAME_STRETCH_US = 3_000;

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (id: number) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const file = url ? ` ${basename(url)}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'}${file}`;
  };
  const stacks = new Map<number, string[]>();
  const stackOf = (id: number) => {
    let stack = stacks.get(id);
    if (!stack) {
      stack = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(name(at));
      stacks.set(id, stack);
    }
    return stack;
  };
  const idle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';

  const inclusive = new Map<string, number>();
  const stretches: ProfileSummary['stretches'] = [];
  let busyUs = 0;
  let t = profile.startTime;
  let stretch: { start: number; end: number; leaf: Map<string, number> } | undefined;
  const close = () => {
    if (!stretch) return;
    const mostly = [...stretch.leaf].sort((a, b) => b[1] - a[1])[0]![0];
    stretches.push({ ms: (stretch.end - stretch.start) / 1000, atMs: (stretch.start - profile.startTime) / 1000, mostly });
    stretch = undefined;
  };
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (idle(id)) return close();
    busyUs += dt;
    const stack = stackOf(id);
    for (const fn of new Set(stack)) inclusive.set(fn, (inclusive.get(fn) ?? 0) + dt);
    if (!stretch || t - stretch.end > SAME_STRETCH_US) {
      close();
      stretch = { start: t, end: t, leaf: new Map() };
    }
    stretch.end = t;
    // The function below the event loop's own frames: what this piece of the stretch was doing.
    let task = name(id);
    for (let k = stack.length - 1; k >= 0; k--) {
      if (!EVENT_LOOP_FRAME.test(stack[k]!)) {
        task = stack[k]!;
        break;
      }
    }
    stretch.leaf.set(task, (stretch.leaf.get(task) ?? 0) + dt);
  });
  close();
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busyUs / 1000,
    functions: [...inclusive].map(([fn, us]) => ({ name: fn, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
    stretches: stretches.sort((a, b) => b.ms - a.ms),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const topAt = process.argv.indexOf('--top');
  const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 30;
  if (!file) {
    console.error('usage: npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const s = summarizeProfile(profileSchema.parse(JSON.parse(readFileSync(file, 'utf8'))));
  console.log(`${file}: ${(s.wallMs / 1000).toFixed(1)} s profiled, main thread busy ${(s.busyMs / 1000).toFixed(1)} s (${((100 * s.busyMs) / s.wallMs).toFixed(1)} %)`);
  console.log(`\nCPU time under each function (inclusive, top ${top}):`);
  for (const f of s.functions.filter((f) => f.name !== '(root)').slice(0, top)) console.log(`${f.ms.toFixed(0).padStart(8)} ms ${((100 * f.ms) / s.busyMs).toFixed(1).padStart(5)} %  ${f.name}`);
  console.log(`\nLongest busy stretches (a message arriving then waited up to this long):`);
  for (const x of s.stretches.slice(0, 15)) console.log(`${x.ms.toFixed(0).padStart(6)} ms at ${(x.atMs / 1000).toFixed(1).padStart(6)} s, mostly ${x.mostly}`);
  const over = (ms: number) => s.stretches.filter((x) => x.ms >= ms).length;
  console.log(`stretches ≥ 20 ms: ${over(20)}, ≥ 50 ms: ${over(50)}, ≥ 100 ms: ${over(100)}`);
}

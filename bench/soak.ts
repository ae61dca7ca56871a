/**
 * Memory over a long run: one worker process (a child of this one) holds conversations back to
 * back for N minutes (default 10), each two turns with the builtin avatar against the fake cloud
 * in this process. After every conversation it closes the session, runs a full GC and reports RSS
 * and V8 heap; growth per hour is the least-squares slope after the warm-up. The trend is drawn
 * to bench/out/soak.svg and .png.
 *
 * In a deployed worker agents starts a process per job, so a leak here costs per call rather than
 * per process lifetime; it still shows what a conversation leaves behind.
 *
 * `--shared-vad` runs every conversation on one silero VAD instead, which shows silero's leak: the
 * VAD keeps every stream it made, and with it every finished session (about 10 MB RSS each).
 *
 * Run: npx tsx bench/soak.ts [minutes] [--shared-vad]
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runChild } from './support/child.js';
import { startFakeCloud } from './support/fake-cloud.js';
import { writeLinePlot } from './support/line-plot.js';
import { soakSample, type SoakSample } from './support/messages.js';
import { linearFit, medianP95 } from './support/stats.js';

const TURNS_PER_CONVERSATION = 2;
const OUT_DIR = fileURLToPath(new URL('./out/', import.meta.url));

export async function benchSoak(minutes = 10, opts: { sharedVad?: boolean } = {}): Promise<void> {
  const cloud = await startFakeCloud();
  const samples: SoakSample[] = [];
  const load0 = loadavg()[0]!;
  try {
    await runChild({
      script: new URL('./support/soak-run.ts', import.meta.url),
      input: { minutes, turnsPerConversation: TURNS_PER_CONVERSATION, sharedVad: opts.sharedVad ?? false, env: cloud.env },
      message: soakSample,
      onMessage: (s) => {
        samples.push(s);
        process.stderr.write(`\rsoak: ${s.atMin.toFixed(1)}/${minutes} min, ${s.conversation} conversations, RSS ${Math.round(s.memory.rssMb)} MB`);
      },
      // A conversation that started just before the deadline still finishes.
      timeoutMs: minutes * 60_000 + 180_000,
    });
  } finally {
    process.stderr.write('\n');
    await cloud.close();
  }
  await report(samples, minutes, load0, opts.sharedVad ?? false);
}

async function report(samples: SoakSample[], minutes: number, load0: number, sharedVad: boolean): Promise<void> {
  const runs = samples.filter((s) => s.conversation > 0);
  if (runs.length < 4) throw new Error(`soak: only ${runs.length} conversations in ${minutes} min; run it longer (npx tsx bench/soak.ts <minutes>)`);
  // The first conversations load the VAD model, JIT the code and grow the heap to its working
  // size: not growth. Fit the rest.
  const settled = runs.slice(Math.max(2, Math.floor(runs.length * 0.2)));
  const hours = settled.map((s) => s.atMin / 60);
  const rss = linearFit(hours, settled.map((s) => s.memory.rssMb));
  const heap = linearFit(hours, settled.map((s) => s.memory.heapMb));
  const external = linearFit(hours, settled.map((s) => s.memory.externalMb));
  const perConversation = linearFit(settled.map((s) => s.conversation), settled.map((s) => s.memory.rssMb));
  const e2e = medianP95(runs.flatMap((s) => s.endToEndMs));
  const failed = runs.reduce((n, s) => n + s.failedTurns, 0);
  const dropped = runs.reduce((n, s) => n + s.frames.dropped, 0);
  const frames = runs.reduce((n, s) => n + s.frames.frames, 0);
  const last = runs.at(-1)!;

  console.log(`\n## Soak: conversations back to back in one worker process for ${last.atMin.toFixed(1)} min (${cpus().length} cores, load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end)`);
  console.log(`${runs.length} conversations of ${TURNS_PER_CONVERSATION} turns, builtin avatar, ${sharedVad ? 'ONE silero VAD shared by all (it keeps every stream, so every session)' : 'a silero VAD loaded per conversation as per job process'}; memory after each closed and a full GC`);
  console.log(`${'after conversation'.padEnd(20)} ${'min'.padStart(6)} ${'RSS MB'.padStart(8)} ${'heap MB'.padStart(8)} ${'external MB'.padStart(12)}`);
  const picks = [samples[0]!, runs[0]!, settled[0]!, runs[Math.floor(runs.length / 2)]!, last];
  for (const s of [...new Set(picks)]) {
    console.log(`${String(s.conversation).padEnd(20)} ${s.atMin.toFixed(1).padStart(6)} ${s.memory.rssMb.toFixed(1).padStart(8)} ${s.memory.heapMb.toFixed(1).padStart(8)} ${s.memory.externalMb.toFixed(1).padStart(12)}`);
  }
  console.log(
    `growth per hour (least squares from conversation ${settled[0]!.conversation} on): RSS ${signed(rss.slope)} MB/h, heap ${signed(heap.slope)} MB/h, external ${signed(external.slope)} MB/h` +
      `; RSS ${signed(perConversation.slope * 1024, 0)} KB per conversation`,
  );
  console.log(`turns: end to end median ${e2e.median} ms, p95 ${e2e.p95} ms; ${failed} failed; avatar frames dropped ${dropped} of ${frames + dropped}`);

  const x0 = settled[0]!.atMin;
  const x1 = last.atMin;
  const plot = await writeLinePlot(
    {
      title: `Worker memory after each conversation (${runs.length} back to back, full GC)`,
      xLabel: 'minutes',
      yLabel: 'MB',
      series: [
        { name: `RSS (${signed(rss.slope)} MB/h)`, color: '#1f77b4', points: samples.map((s) => ({ x: s.atMin, y: s.memory.rssMb })), trend: { slope: rss.slope / 60, intercept: rss.intercept, x0, x1 } },
        { name: `V8 heap used (${signed(heap.slope)} MB/h)`, color: '#d62728', points: samples.map((s) => ({ x: s.atMin, y: s.memory.heapMb })), trend: { slope: heap.slope / 60, intercept: heap.intercept, x0, x1 } },
        { name: `external (${signed(external.slope)} MB/h)`, color: '#2ca02c', points: samples.map((s) => ({ x: s.atMin, y: s.memory.externalMb })) },
      ],
    },
    `${OUT_DIR}soak${sharedVad ? '-shared-vad' : ''}`,
  );
  await writeFile(plot.svg.replace(/\.svg$/, '.json'), JSON.stringify({ minutes, sharedVad, samples }, null, 1));
  console.log(`plot: ${plot.png} (and .svg; samples in .json)`);
}

function signed(v: number, digits = 1): string {
  return `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const minutes = Number(args.find((a) => !a.startsWith('--')) ?? 10);
  await benchSoak(minutes, { sharedVad: args.includes('--shared-vad') });
  process.exit(0);
}

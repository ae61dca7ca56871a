/**
 * The worker under test runs in its own Node process (as an agents job does), so its CPU, memory
 * and event loop are its own and not the fake cloud's or the bench's. Parent and child talk over
 * Node's IPC channel; the child's input travels in one environment variable, and every message
 * back is checked with zod.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';

const INPUT_VAR = 'BENCH_CHILD_INPUT';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs `script` (a .ts file, through tsx) with `input`, handing each valid message to `onMessage`.
 * Resolves when the child exits; rejects when it exits non-zero, sends something malformed, or
 * outlives `timeoutMs` (then it is killed).
 */
export function runChild<M>(opts: {
  script: URL;
  input: unknown;
  message: z.ZodType<M>;
  onMessage: (m: M) => void;
  timeoutMs: number;
}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(opts.script), [], {
      cwd: REPO_ROOT,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      env: { ...process.env, [INPUT_VAR]: JSON.stringify(opts.input) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new Error(`bench child ${opts.script.pathname} ran past ${opts.timeoutMs} ms and was killed`);
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('message', (raw) => {
      const parsed = opts.message.safeParse(raw);
      if (parsed.success) opts.onMessage(parsed.data);
      else failure ??= new Error(`bench child ${opts.script.pathname} sent a malformed message: ${parsed.error.message}`);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (code !== 0) reject(new Error(`bench child ${opts.script.pathname} exited with ${signal ?? `code ${code}`}`));
      else resolve();
    });
  });
}

/** In the child: its input, checked. */
export function childInput<I>(schema: z.ZodType<I>): I {
  const raw = process.env[INPUT_VAR];
  if (!raw) throw new Error(`${INPUT_VAR} is not set: this script is started by the bench (bench/concurrency.ts, bench/soak.ts), not directly`);
  return schema.parse(JSON.parse(raw));
}

/** In the child: send a message and wait until it has gone (so exiting right after loses nothing). */
export function sendToParent(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('no IPC channel to the bench parent'));
    process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
  });
}

/** In the child: a full garbage collection (the bench starts children with --expose-gc). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('global gc() is missing: start the child with --expose-gc');
  gc();
  gc();
}

/** Process memory in MB: resident set, V8 heap used, and memory outside the heap (buffers, native). */
export function memoryMb(): { rssMb: number; heapMb: number; externalMb: number } {
  const m = process.memoryUsage();
  const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  return { rssMb: mb(m.rss), heapMb: mb(m.heapUsed), externalMb: mb(m.external) };
}

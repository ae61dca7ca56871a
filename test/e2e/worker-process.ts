/**
 * The real worker as a child process, started the way `npm run dev:worker` starts it (`tsx src/main.ts
 * dev`, here `node --import tsx src/main.ts dev`: the same loader, without tsx's CLI wrapper in
 * between, so SIGTERM reaches the worker itself). Its output is kept (and printed when a test
 * fails) and every wait on it is bounded.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { envSchema } from '../../src/config/env.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO_ROOT, 'src/main.ts');
/** tsx's loader by absolute URL: the worker runs in a scratch directory, where `tsx` alone would not resolve. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface WorkerProcess {
  readonly pid: number;
  /** Every line the worker (and its job processes) printed, stdout and stderr, oldest first. */
  readonly lines: string[];
  /** The last `n` lines, for failure messages. */
  tail(n?: number): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** The exit code or signal name once the process has exited; undefined while it runs. */
  readonly exit: number | string | undefined;
  /** Process ids of the worker's descendants (job and inference processes), now. */
  descendants(): number[];
  /** SIGTERM, then wait up to `ms`; SIGKILL (and a rejection) if it did not exit by then. */
  stop(ms?: number): Promise<number | string>;
}

/**
 * Starts `src/main.ts <command>` with exactly `env` on top of a scrubbed environment: no variable
 * of the worker's own schema is inherited from the test's environment, and the scratch working
 * directory has no `.env`, so a developer's settings cannot leak into the test.
 */
export function startWorkerProcess(env: Record<string, string>, command: 'dev' | 'start' = 'dev'): WorkerProcess {
  const base: NodeJS.ProcessEnv = {};
  const own = new Set([...Object.keys(envSchema.shape), 'LIVEKIT_DEV_MODE', 'LIVEKIT_INFERENCE_URL', 'NODE_OPTIONS']);
  for (const [key, value] of Object.entries(process.env)) {
    if (!own.has(key) && !key.startsWith('VITEST') && key !== 'NODE_ENV' && key !== 'TEST') base[key] = value;
  }
  const cwd = mkdtempSync(join(tmpdir(), 'e2e-worker-'));
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, ['--import', TSX, MAIN, command], {
    cwd,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (stream: Readable, tag: string) => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) lines.push(`${tag}${stripAnsi(line)}`);
      if (lines.length > 50_000) lines.splice(0, lines.length - 50_000);
    });
  };
  keep(child.stdout, '');
  keep(child.stderr, '[stderr] ');
  let exit: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      rmSync(cwd, { recursive: true, force: true });
      exit = code ?? signal ?? 'unknown';
      resolve(exit);
    });
  });
  const pid = child.pid!;
  return {
    pid,
    lines,
    tail: (n = 40) => lines.slice(-n).join('\n'),
    exited,
    get exit() {
      return exit;
    },
    descendants: () => descendantsOf(pid),
    async stop(ms = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the worker did not exit within ${ms} ms of SIGTERM; killed. Last output:\n${lines.slice(-30).join('\n')}`));
        }, ms);
      });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Children, grandchildren... of `pid`, from /proc (Linux; elsewhere: none known). */
export function descendantsOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const parentOf = new Map<number, number>();
  for (const entry of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

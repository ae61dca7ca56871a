/**
 * The real worker (`src/main.ts dev`) as a child process, the way a developer runs it, with its
 * output kept for failure messages. It runs in its own process group: the job processes the agents
 * framework forks are ended with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface WorkerProcess {
  readonly pid: number;
  /** stdout and stderr lines, oldest first (the last 2,000). */
  readonly lines: readonly string[];
  /** Set once the process has exited: its code, or the signal's name. */
  readonly exit: string | undefined;
  /** The last `n` lines, for a failure message. */
  tail(n?: number): string;
  /** SIGTERM (the CLI closes the worker and its jobs), then SIGKILL to the group after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `env` is all the worker sees besides PATH/HOME/locale: a developer's shell variables and `.env`
 * (which only fills variables not set here) must not change what the test runs.
 */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL']) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'dev', '--log-level', 'info'], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  let exit: string | undefined;
  const keep = (chunk: Buffer, partial: { text: string }) => {
    partial.text += chunk.toString('utf8');
    const parts = partial.text.split('\n');
    partial.text = parts.pop() ?? '';
    // pino-pretty colours: unreadable in a failure message.
    for (const line of parts) lines.push(line.replace(/\x1b\[[0-9;]*m/g, ''));
    if (lines.length > 2_000) lines.splice(0, lines.length - 2_000);
  };
  const out = { text: '' };
  const err = { text: '' };
  child.stdout!.on('data', (chunk: Buffer) => keep(chunk, out));
  child.stderr!.on('data', (chunk: Buffer) => keep(chunk, err));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    });
    child.once('error', (error) => {
      lines.push(`spawn failed: ${error.message}`);
      exit ??= 'spawn error';
      resolve();
    });
  });
  const pid = child.pid ?? -1;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      /* already gone */
    }
  };
  return {
    pid,
    lines,
    get exit() {
      return exit;
    },
    tail: (n = 40) => lines.slice(-n).join('\n'),
    async stop(graceMs = 10_000) {
      if (pid < 0) return;
      if (exit === undefined) child.kill('SIGTERM');
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
      await Promise.race([exited, timer]);
      // Whatever is left of the group (a job process that did not follow): gone now.
      killGroup('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { httpOf } from '../doctor/probe.js';
import { isLocal } from '../doctor/checks.js';

/** LiveKit's documented ways to get a local server, and the hosted one. */
export const INSTALL_LIVEKIT = [
  'No LiveKit server answers at LIVEKIT_URL, and no `livekit-server` is on the PATH. Get one:',
  '  macOS    brew install livekit',
  '  Linux    curl -sSL https://get.livekit.io | bash',
  '  Docker   docker run --rm -p 7880:7880 -p 7881:7881 -p 7882:7882/udp livekit/livekit-server --dev',
  'then run `npm run dev` again (it starts `livekit-server --dev` itself when it is on the PATH).',
  'Or use LiveKit Cloud (https://cloud.livekit.io): set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET',
  'in .env to your project\'s values.',
].join('\n');

export class LiveKitUnavailable extends Error {
  override name = 'LiveKitUnavailable';
}

export interface LocalLiveKit {
  /** How LiveKit was found, for the start-up block. */
  how: string;
  stop(): Promise<void>;
}

/** host:port of a ws(s)/http(s) URL, with the scheme's default port. */
function hostPort(url: string): { host: string; port: number } {
  const u = new URL(httpOf(url));
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}

/** Something accepts TCP connections there (a LiveKit server, we trust; the doctor checks the keys). */
export function answers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const { host, port } = hostPort(url);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * LiveKit for `npm run dev`: already answering, or (local URL only) `livekit-server --dev` started
 * from the PATH and stopped with us, or a LiveKitUnavailable saying how to get one. Never a retry
 * loop: the worker would otherwise log connection failures for ever.
 */
export async function ensureLiveKit(url: string, opts: { startTimeoutMs?: number; log?: (line: string) => void } = {}): Promise<LocalLiveKit> {
  if (await answers(url)) return { how: 'already running', stop: async () => undefined };
  if (!isLocal(url)) {
    throw new LiveKitUnavailable(`Nothing answers at LIVEKIT_URL=${url}. Check the URL and that the server (or your LiveKit Cloud project) is up.`);
  }
  const bin = findOnPath('livekit-server');
  if (!bin) throw new LiveKitUnavailable(INSTALL_LIVEKIT);
  opts.log?.(`starting ${bin} --dev …`);
  // stdin stays open: a child that watches it (as many servers' dev modes do) ends with us.
  const child = spawn(bin, ['--dev'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(...b.toString().split('\n').filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  while (!(await answers(url, 500))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new LiveKitUnavailable(`livekit-server --dev exited (${child.exitCode ?? child.signalCode}) before answering at ${url}:\n${output.slice(-15).join('\n')}`);
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new LiveKitUnavailable(`livekit-server --dev did not answer at ${url} within ${(opts.startTimeoutMs ?? 15_000) / 1000} s:\n${output.slice(-15).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { how: 'livekit-server --dev, started by npm run dev', stop: () => stopChild(child) };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

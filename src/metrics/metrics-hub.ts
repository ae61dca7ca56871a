import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobEventSchema, MAX_EVENT_LINE } from './job-events.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface MetricsHub {
  readonly socketPath: string;
  /** Jobs connected right now. */
  readonly activeJobs: number;
  /** Jobs whose avatar renders in this worker right now (builtin, renderer client, Unreal bridge): what costs CPU. */
  readonly localRenders: number;
  close(): Promise<void>;
}

/** A socket path for this process: short (sun_path holds ~100 bytes) and unique per worker. */
export function defaultHubSocketPath(pid = process.pid): string {
  return join(tmpdir(), `voice-avatar-metrics-${pid}.sock`);
}

/**
 * The main process's end of the job → main channel. LiveKit Agents runs every job in a child
 * process of its own, so the turns happen where no /metrics server can see them; each job
 * connects here (a Unix socket, path handed down in the environment) and sends one JSON line per
 * event, which lands in the main process's registry. A connection is a running job: the
 * active-jobs gauge goes up when the job says hello and down when the connection closes, whether
 * the job ended cleanly or its process died.
 */
export async function startMetricsHub(metrics: WorkerMetrics, opts: { socketPath?: string; onWarning?: (msg: string) => void } = {}): Promise<MetricsHub> {
  const socketPath = opts.socketPath ?? defaultHubSocketPath();
  const warn = opts.onWarning ?? (() => {});
  // A socket file left by a crashed worker with the same pid would make listen() fail.
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const sockets = new Set<Socket>();
  let active = 0;
  let renders = 0;

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let counted = false;
    let rendering = false;
    let adapter: string | undefined;
    let jobId: string | undefined;
    let memoryReported = false;
    const setAvatar = (next: string | undefined, local: boolean) => {
      if (adapter !== undefined) metrics.activeAvatars.dec({ adapter });
      if (next !== undefined) metrics.activeAvatars.inc({ adapter: next });
      adapter = next;
      if (local !== rendering) {
        renders += local ? 1 : -1;
        rendering = local;
      }
    };
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_EVENT_LINE && !buffered.includes('\n')) {
        warn('metrics hub: dropping a job connection that sent an oversized line');
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) handle(line);
      }
    });
    const handle = (line: string) => {
      let parsed: ReturnType<typeof jobEventSchema.safeParse> | undefined;
      try {
        parsed = jobEventSchema.safeParse(JSON.parse(line));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success) {
        warn('metrics hub: ignoring a malformed event from a job');
        return;
      }
      const event = parsed.data;
      switch (event.type) {
        case 'job':
          jobId ??= event.jobId;
          if (!counted) {
            counted = true;
            active++;
            metrics.activeJobs.inc();
          }
          break;
        case 'turn':
          metrics.observeTurn(event.turn, event.budgetMs);
          break;
        case 'avatar_fallback':
          metrics.avatarFallback(event.reason);
          break;
        case 'avatar_frames':
          for (const outcome of ['shown', 'dropped', 'repeated'] as const) if (event[outcome] > 0) metrics.avatarFrames.inc({ adapter: event.adapter, outcome }, event[outcome]);
          break;
        case 'avatar':
          setAvatar(event.adapter, event.rendersLocally);
          if (event.joinMs !== undefined) metrics.avatarJoinSeconds.observe({ adapter: event.adapter }, event.joinMs / 1000);
          break;
        case 'memory':
          if (jobId === undefined) break;
          memoryReported = true;
          metrics.jobMemoryBytes.set({ job: jobId, area: 'heap' }, event.heapBytes);
          metrics.jobMemoryBytes.set({ job: jobId, area: 'external' }, event.externalBytes);
          metrics.jobMemoryBytes.set({ job: jobId, area: 'rss' }, event.rssBytes);
          break;
      }
    };
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      setAvatar(undefined, false);
      // One series per running conversation: an ended job's must not linger (nor pile up).
      if (memoryReported && jobId !== undefined) for (const area of ['heap', 'external', 'rss']) metrics.jobMemoryBytes.remove({ job: jobId, area });
      if (counted) {
        counted = false;
        active--;
        metrics.activeJobs.dec();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Only this user's processes may report.
  chmodSync(socketPath, 0o600);
  // The hub must not keep a worker alive that is otherwise done.
  server.unref();
  const unlink = () => {
    try {
      unlinkSync(socketPath);
    } catch {
      // already gone
    }
  };
  process.once('exit', unlink);

  return {
    socketPath,
    get activeJobs() {
      return active;
    },
    get localRenders() {
      return renders;
    },
    close: () =>
      new Promise<void>((resolve) => {
        process.off('exit', unlink);
        for (const s of sockets) s.destroy();
        server.close(() => {
          unlink();
          resolve();
        });
      }),
  };
}

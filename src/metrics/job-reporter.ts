import { createConnection, type Socket } from 'node:net';
import { METRICS_SOCKET_ENV, type JobEvent } from './job-events.js';
import type { MemorySample } from './job-memory.js';
import type { TurnTimings } from './turn-timeline.js';

/** The job process's side of the metrics hub: fire and forget; metrics never hold up a conversation. */
export interface JobReporter {
  turn(turn: TurnTimings, budgetMs: number): void;
  avatarFallback(profile: string, reason: string): void;
  /** The avatar now showing (at start and after each fallback). */
  avatar(adapter: string, rendersLocally: boolean, joinMs?: number): void;
  /** Frames since the last report, of an avatar whose frames come from a renderer. */
  avatarFrames(adapter: string, frames: { shown: number; dropped: number; repeated: number }): void;
  /** This job process's memory now. */
  memory(sample: MemorySample): void;
  close(): Promise<void>;
}

const NOOP: JobReporter = { turn: () => {}, avatarFallback: () => {}, avatar: () => {}, avatarFrames: () => {}, memory: () => {}, close: async () => {} };

/**
 * Connect this job to the main process's metrics hub. The connection itself counts the job as
 * active until it closes, on purpose or because the process died. Without a hub (METRICS_PORT=0,
 * `connect` from another tool, tests) this returns a reporter that does nothing.
 */
export function connectJobReporter(jobId: string, opts: { socketPath?: string; onError?: (err: Error) => void } = {}): JobReporter {
  const path = opts.socketPath ?? process.env[METRICS_SOCKET_ENV];
  if (!path) return NOOP;
  let socket: Socket | undefined = createConnection(path);
  // Never keep a finished job process alive for the sake of its metrics.
  socket.unref();
  socket.on('error', (err) => {
    socket?.destroy();
    socket = undefined;
    opts.onError?.(err);
  });
  const send = (event: JobEvent) => {
    if (socket && !socket.destroyed) socket.write(`${JSON.stringify(event)}\n`);
  };
  send({ type: 'job', jobId: jobId.slice(0, 200) });
  return {
    turn: (turn, budgetMs) => send({ type: 'turn', turn: { ...turn }, budgetMs }),
    avatarFallback: (profile, reason) => send({ type: 'avatar_fallback', profile: profile.slice(0, 200), reason: reason.slice(0, 2000) }),
    avatarFrames: (adapter, f) => send({ type: 'avatar_frames', adapter: adapter.slice(0, 40), shown: f.shown, dropped: f.dropped, repeated: f.repeated }),
    memory: (m) => send({ type: 'memory', heapBytes: Math.round(m.heapBytes), externalBytes: Math.round(m.externalBytes), rssBytes: Math.round(m.rssBytes) }),
    avatar: (adapter, rendersLocally, joinMs) =>
      send({ type: 'avatar', adapter: adapter.slice(0, 40), rendersLocally, ...(joinMs !== undefined ? { joinMs: Math.min(600_000, Math.max(0, joinMs)) } : {}) }),
    close: () =>
      new Promise<void>((resolve) => {
        const s = socket;
        socket = undefined;
        if (!s || s.destroyed) return resolve();
        const timer = setTimeout(() => {
          s.destroy();
          resolve();
        }, 1000);
        timer.unref();
        s.end(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

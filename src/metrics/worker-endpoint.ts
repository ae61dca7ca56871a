import type { Logger } from 'pino';
import { METRICS_SOCKET_ENV } from './job-events.js';
import { startMetricsHub, type MetricsHub } from './metrics-hub.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { WorkerMetrics } from './worker-metrics.js';

export interface WorkerMetricsEndpoint {
  metrics: WorkerMetrics;
  server: MetricsServer;
  hub: MetricsHub;
  close(): Promise<void>;
}

/**
 * In the worker's main process, before the agents framework forks any job process: serve
 * /metrics on `port` and open the hub the job processes report to, and put the hub's address in
 * the environment they inherit. Port 0 in the settings disables all of it. A port already in use
 * is a warning, not a reason to stop taking calls.
 */
export async function startWorkerMetricsEndpoint(opts: {
  port: number;
  host?: string;
  logger: Pick<Logger, 'info' | 'warn'>;
  socketPath?: string;
}): Promise<WorkerMetricsEndpoint | undefined> {
  if (opts.port === 0) return undefined;
  const metrics = new WorkerMetrics({ defaultMetrics: true });
  let server: MetricsServer;
  try {
    server = await startMetricsServer(metrics, { port: opts.port, ...(opts.host ? { host: opts.host } : {}) });
  } catch (err) {
    opts.logger.warn(`metrics: cannot listen on port ${opts.port} (${err instanceof Error ? err.message : String(err)}); continuing without /metrics. Set METRICS_PORT to a free port, or 0 to disable.`);
    return undefined;
  }
  let hub: MetricsHub;
  try {
    hub = await startMetricsHub(metrics, { ...(opts.socketPath ? { socketPath: opts.socketPath } : {}), onWarning: (m) => opts.logger.warn(m) });
  } catch (err) {
    await server.close();
    opts.logger.warn(`metrics: cannot open the job metrics socket (${err instanceof Error ? err.message : String(err)}); continuing without /metrics`);
    return undefined;
  }
  process.env[METRICS_SOCKET_ENV] = hub.socketPath;
  opts.logger.info(`metrics: http://0.0.0.0:${server.port}/metrics`);
  return {
    metrics,
    server,
    hub,
    close: async () => {
      if (process.env[METRICS_SOCKET_ENV] === hub.socketPath) delete process.env[METRICS_SOCKET_ENV];
      await Promise.all([server.close(), hub.close()]);
    },
  };
}

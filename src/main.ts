#!/usr/bin/env node
import { cli, ServerOptions } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config/config.js';
import { exitOnFatal } from './fatal.js';
import { createLogger } from './logging.js';
import { startWorkerMetricsEndpoint } from './metrics/worker-endpoint.js';
import { createWorkerLoad, defaultMaxLocalRenders } from './metrics/worker-load.js';

/**
 * The command line.
 *   worker:  dev | start | connect   (the LiveKit Agents CLI)
 *   tools:   render | converse        (work on files, no room needed)
 */
const TOOLS = {
  render: () => import('./commands/render.js'),
  converse: () => import('./commands/converse.js'),
} as const;

async function main(): Promise<void> {
  // A .env in the working directory, for development; the real environment wins over it.
  if (existsSync('.env')) process.loadEnvFile('.env');
  const command = process.argv[2];
  if (command && command in TOOLS) {
    const tool = await TOOLS[command as keyof typeof TOOLS]();
    const code = await tool.run(process.argv.slice(3));
    // rtc-node's native side keeps the event loop alive; a finished tool says so explicitly.
    await dispose();
    process.exit(code);
  }
  // One log format per mode, as the agents framework's own lines: readable in dev, JSON in
  // production. Set here so the job processes forked below inherit it.
  if (command === 'dev') process.env.LOG_FORMAT ??= 'pretty';
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, secrets: config.secrets, format: config.logFormat });
  // Said once per worker, never an error: a key in the environment that no stage uses.
  for (const note of config.choices.notes) logger.info(note);
  // /metrics lives here, in the main process; job processes (forked below, inheriting the hub's
  // address from the environment) send their turns to it. See docs/latency.md.
  const endpoint = await startWorkerMetricsEndpoint({ port: config.ops.metricsPort, logger });
  // Without the hub (METRICS_PORT=0) renders cannot be counted; the load is then CPU alone.
  const loadFunc = createWorkerLoad({
    localRenders: () => endpoint?.hub.localRenders ?? 0,
    maxLocalRenders: config.ops.maxAvatarRenders || defaultMaxLocalRenders(),
  });
  // The agents framework imports this file in each job process; same extension as ours (.ts
  // under tsx in development, .js once built).
  const agentFile = fileURLToPath(new URL(`./agent${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  cli.runApp(
    new ServerOptions({
      agent: agentFile,
      wsURL: config.livekit.url,
      apiKey: config.livekit.apiKey,
      apiSecret: config.livekit.apiSecret,
      ...(config.livekit.agentName ? { agentName: config.livekit.agentName } : {}),
      // On SIGTERM (production `start`) the worker stops taking jobs and waits this long for calls to end.
      drainTimeout: config.ops.drainTimeoutMs,
      // A job process must import the agent and load the VAD before it can take a job. agents
      // allows 10 s; on a loaded host it takes longer, and then the job is dropped (`dev` forks its
      // process when the job arrives) or the warm-up is killed and started again from scratch
      // (`start`), over and over while the load lasts. A slow start delays one call; a timeout
      // loses it.
      initializeProcessTimeout: 60_000,
      jobMemoryWarnMB: config.ops.jobMemoryWarnMB,
      jobMemoryLimitMB: config.ops.jobMemoryLimitMB,
      loadFunc: () => loadFunc(),
      host: config.ops.health.host,
      ...(config.ops.health.port !== undefined ? { port: config.ops.health.port } : {}),
      ...(config.ops.idleProcesses !== undefined ? { numIdleProcesses: config.ops.idleProcesses } : {}),
      ...(config.ops.loadThreshold !== undefined ? { loadThreshold: config.ops.loadThreshold } : {}),
    }),
  );
}

main().catch(exitOnFatal);

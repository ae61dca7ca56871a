#!/usr/bin/env node
/**
 * `npm run dev`: the whole local stack in one command. The configuration is checked first; LiveKit
 * is found (or `livekit-server --dev` started, or the way to get one printed and exit 69); the page
 * is built when web/ changed; then the worker (`src/main.ts dev`, a child process, exactly what
 * `npm run dev:worker` runs) and the page server start, and one block says what runs and why.
 * Ctrl+C (or SIGTERM) stops all of it, the LiveKit server we started included.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadAvatarProfile } from '../config/avatar-profile.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { exitOnFatal } from '../fatal.js';
import { createLogger } from '../logging.js';
import { CONNECTION_PATH } from '../web/api.js';
import { loadWebConfig } from '../web/config.js';
import { createWebServer } from '../web/server.js';
import { startupBlock } from './banner.js';
import { ensureLiveKit, LiveKitUnavailable, stopChild } from './livekit.js';
import { buildPage, pageIsStale } from './page.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** tsx's loader by absolute URL, so the worker starts the same from any working directory. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** EX_UNAVAILABLE: a service we need is not there. */
const EXIT_NO_LIVEKIT = 69;
const REGISTER_TIMEOUT_MS = 90_000;

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  // Both configurations first: a config error is one line before anything starts.
  const config = loadConfig();
  const webConfig = loadWebConfig();
  const profile = await loadAvatarProfile(config.avatar.dir, config.avatar.name).catch((err: unknown) => {
    // A broken profile is a configuration error: one line naming it, as for a variable.
    throw new ConfigError('AVATAR', err instanceof Error ? err.message : String(err));
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let livekit;
  try {
    livekit = await ensureLiveKit(config.livekit.url, { log: say });
  } catch (err) {
    if (!(err instanceof LiveKitUnavailable)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT_NO_LIVEKIT);
  }
  const stops: (() => Promise<void>)[] = [() => livekit.stop()];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    process.exit(code);
  };
  process.once('SIGINT', () => void stopAll(0));
  process.once('SIGTERM', () => void stopAll(0));

  try {
    if (pageIsStale(ROOT)) {
      say('building the page (web/ → dist/web) …');
      await buildPage(ROOT);
    }
    const logger = createLogger({ level: webConfig.logLevel, secrets: webConfig.secrets, name: 'voice-avatar-web', format: 'pretty' });
    const web = await createWebServer(webConfig, { staticDir: `${ROOT}dist/web`, logger });
    await web.listen({ host: webConfig.host, port: webConfig.port });
    stops.push(() => web.close());
    const address = web.server.address();
    const port = typeof address === 'object' && address ? address.port : webConfig.port;
    const loopback = ['127.0.0.1', '::1', 'localhost'].includes(webConfig.host);
    const pageUrl = `http://${loopback ? 'localhost' : webConfig.host}:${port}`;

    // The plain worker, as `npm run dev:worker` runs it; its lines go to our terminal as they are.
    // One job process kept warm (VAD loaded) so the agent joins without forking one first: the
    // plain `dev` forks it when the call comes (bench/join-to-listening.ts measures both).
    const worker = spawn(process.execPath, ['--import', TSX, `${ROOT}src/main.ts`, 'dev'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, WORKER_IDLE_PROCESSES: process.env.WORKER_IDLE_PROCESSES || '1' },
    });
    stops.push(() => stopChild(worker, 10_000));
    let registered = false;
    let partial = '';
    worker.stdout.on('data', (b: Buffer) => {
      process.stdout.write(b);
      if (registered) return;
      partial = (partial + b.toString()).slice(-4096);
      if (/registered worker/.test(partial)) {
        registered = true;
        say(startupBlock(config, profile.adapter, livekit.how, pageUrl));
        logger.info(`page at ${pageUrl}/, tokens at POST ${pageUrl}${CONNECTION_PATH}`);
      }
    });
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`the worker exited (${code ?? signal}); stopping\n`);
      void stopAll(typeof code === 'number' && code !== 0 ? code : 1);
    });
    setTimeout(() => {
      if (!registered && !stopping) say(`the worker has not registered with LiveKit at ${config.livekit.url} after ${REGISTER_TIMEOUT_MS / 1000} s; its lines above say why (\`npm run doctor\` checks the key and secret)`);
    }, REGISTER_TIMEOUT_MS).unref();
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

main().catch(exitOnFatal);

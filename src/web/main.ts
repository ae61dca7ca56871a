#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { exitOnFatal } from '../fatal.js';
import { createLogger } from '../logging.js';
import { isUnprotectedPublic, loadWebConfig } from './config.js';
import { CONNECTION_PATH } from './api.js';
import { createWebServer } from './server.js';

/** `npm run web`: the browser page and its token endpoint alone; the worker runs separately (`npm run dev:worker`). `npm run dev` runs both. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadWebConfig();
  const logger = createLogger({ level: config.logLevel, secrets: config.secrets, name: 'voice-avatar-web' });
  const app = await createWebServer(config, { staticDir: 'dist/web', logger });
  if (isUnprotectedPublic(config)) {
    logger.warn(`WEB_HOST=${config.host} serves the network with no protection: anyone who can reach it can mint tokens; set WEB_SHARED_KEY and/or WEB_ALLOWED_ORIGINS`);
  }
  if (!config.livekit.agentName) {
    logger.info('LIVEKIT_AGENT_NAME is not set: tokens carry no agent dispatch; the worker must run without an agent name (automatic dispatch)');
  }
  const address = await app.listen({ host: config.host, port: config.port });
  logger.info(`page at ${address}/, tokens at POST ${address}${CONNECTION_PATH}, browsers join ${config.livekit.publicUrl}`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch(exitOnFatal);

#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { initializeLogger } from '@livekit/agents';
import { ConfigError } from '../../config/config.js';
import { loadAvatarProfile } from '../../config/avatar-profile.js';
import { exitOnFatal } from '../../fatal.js';
import { createLogger } from '../../logging.js';
import type { AvatarMediaSink } from '../local/media-sink.js';
import { localOutputFor } from '../local/outputs.js';
import { loadRunnerConfig } from './env.js';
import { createRunnerServer, HEALTH_PATH, LAUNCH_PATH } from './server.js';

/**
 * `npm run avatar-runner`: the avatar worker side for Node. A worker whose avatar profile is
 * `selfhosted` POSTs {url, token} to /launch; the runner joins that room as the avatar, renders
 * the profile named by AVATAR, and publishes its face and voice there.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadRunnerConfig();
  const logger = createLogger({ level: config.logLevel, secrets: config.secrets, name: 'avatar-runner' });
  // Local outputs are agents AudioOutputs, which log through agents' logger: it must exist first.
  initializeLogger({ pretty: false, level: config.logLevel === 'trace' ? 'debug' : config.logLevel });
  const profile = await loadAvatarProfile(config.avatarsDir, config.avatar).catch((err: Error) => {
    throw new ConfigError('AVATAR', err.message);
  });
  const keys = config.rendererSecret ? { keys: { rendererSecret: config.rendererSecret } } : {};
  try {
    // Fails now, not at the first launch, when the profile is not one this process can render.
    localOutputFor(profile, { sink: NO_SINK, logger, ...keys });
  } catch (err) {
    throw new ConfigError('AVATAR', `AVATAR=${config.avatar}: ${(err as Error).message}`);
  }
  const runner = await createRunnerServer({
    launchSecret: config.launchSecret,
    profile,
    logger,
    maxSessions: config.maxSessions,
    ...keys,
    ...(config.livekitUrlOverride ? { livekitUrlOverride: config.livekitUrlOverride } : {}),
  });
  const address = await runner.app.listen({ host: config.host, port: config.port });
  logger.info(
    { avatar: profile.name, adapter: profile.adapter, maxSessions: config.maxSessions },
    `avatar runner: POST ${address}${LAUNCH_PATH} {url, token} with Authorization: Bearer <AVATAR_LAUNCH_SECRET>; health at ${address}${HEALTH_PATH}`,
  );
  const stop = () => void runner.close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Never started: only there to build the output once and see that the profile can render here. */
const NO_SINK: AvatarMediaSink = {
  start: async () => undefined,
  pushAudio: () => undefined,
  pushVideo: () => undefined,
  clearAudio: () => undefined,
  queuedAudioMs: () => 0,
  close: async () => undefined,
};

main().catch(exitOnFatal);

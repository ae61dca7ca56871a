import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { envSchema } from '../config/env.js';
import { scrubSecrets } from '../logging.js';
import { checkAvatar, checkFfmpeg, checkLiveKit, checkNode, checkPorts, checkPreConnectDecoder, checkProviders, type Check } from './checks.js';

/**
 * `npm run doctor`: what a first run needs, checked one line at a time (✓, or ✗ with the fix),
 * with real but cheap calls: LiveKit's RoomService, each provider's key, the avatar profile, the
 * ports. Exit 0 only when everything needed passes. No secret is ever printed.
 */
export async function runDoctor(env: NodeJS.ProcessEnv = process.env, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const checks: Check[] = [checkNode(), await checkFfmpeg(), await checkPreConnectDecoder()];
  let config: Config | undefined;
  try {
    config = loadConfig(env);
    checks.push({ ok: true, needed: true, what: 'configuration (.env and environment) is valid' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    checks.push({ ok: false, needed: true, what: `configuration: ${err.message}`, fix: 'see .env.example' });
  }
  if (config) {
    const web = envSchema.pick({ WEB_HOST: true, WEB_PORT: true }).parse({ WEB_HOST: env.WEB_HOST || undefined, WEB_PORT: env.WEB_PORT || undefined });
    const ports = [{ port: web.WEB_PORT, host: web.WEB_HOST, variable: 'WEB_PORT' }];
    if (config.ops.metricsPort) ports.push({ port: config.ops.metricsPort, host: '0.0.0.0', variable: 'METRICS_PORT' });
    if (config.ops.health.port) ports.push({ port: config.ops.health.port, host: config.ops.health.host, variable: 'HEALTH_PORT' });
    const [livekit, providers, avatar, portChecks] = await Promise.all([checkLiveKit(config.livekit), checkProviders(config), checkAvatar(config.avatar), checkPorts(ports.filter((p) => p.port > 0))]);
    checks.push(livekit, ...providers, avatar, ...portChecks);
  }
  const secrets = config?.secrets ?? [];
  for (const c of checks) {
    const mark = c.ok ? '✓' : c.needed ? '✗' : '!';
    write(scrubSecrets(`${mark} ${c.what}${c.ok || !c.fix ? '' : `\n    fix: ${c.fix}`}`, secrets));
  }
  for (const note of config?.choices.notes ?? []) write(`  note: ${note}`);
  const failed = checks.filter((c) => !c.ok && c.needed).length;
  write(failed === 0 ? '\nAll set: `npm run dev` starts the worker and the page.' : `\n${failed} check${failed === 1 ? '' : 's'} failed; fix ${failed === 1 ? 'it' : 'them'} and run \`npm run doctor\` again.`);
  return failed === 0 ? 0 : 1;
}

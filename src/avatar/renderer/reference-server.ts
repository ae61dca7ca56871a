/**
 * Runs the reference renderer: the renderer protocol served with the built-in face, no GPU.
 *   tsx src/avatar/renderer/reference-server.ts [--port 8765] [--host 127.0.0.1]
 * AVATAR_RENDERER_SECRET (optional) is the bearer secret workers must send. Point a `diffusion` or
 * `splat` profile's url at the printed address to try the protocol end to end.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../../logging.js';
import { ReferenceRenderer } from './reference-renderer.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: process.env.RENDERER_PORT ?? '8765' }, host: { type: 'string', default: process.env.RENDERER_HOST ?? '127.0.0.1' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`reference renderer: --port ${values.port} is not a port number (0-65535)`);
  process.exit(2);
}
const secret = process.env.AVATAR_RENDERER_SECRET;
if (secret !== undefined && secret.length < 16) {
  console.error('reference renderer: AVATAR_RENDERER_SECRET must be at least 16 characters');
  process.exit(2);
}
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', secrets: secret ? [secret] : [], name: 'reference-renderer' });
const renderer = new ReferenceRenderer({ secret, logger });
const url = await renderer.listen(port, values.host);
logger.info({ url }, `reference renderer listening: set a diffusion or splat profile's url to ${url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void renderer.close().then(() => process.exit(0));
  });
}

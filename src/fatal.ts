import { ConfigError } from './config/config.js';

/**
 * How every entry point (worker, web server, tools) ends on an error it could not handle: a
 * config error is one line and exit 78 (EX_CONFIG); anything else prints its stack, exit 1.
 */
export function exitOnFatal(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`config error: ${err.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

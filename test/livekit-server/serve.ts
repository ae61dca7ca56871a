/**
 * Runs the test server on its own, for manual runs and for measurements that need the server in a
 * separate process (its CPU apart from the clients'):
 *
 *   npx tsx test/livekit-server/serve.ts [--port 7880] [--log info]
 *
 * Prints one JSON line `{"url","httpUrl","apiKey","apiSecret","pid"}` on stdout once listening, and
 * shuts down cleanly on SIGINT/SIGTERM or when stdin closes (so a parent that dies takes it along).
 */
import { parseArgs } from 'node:util';
import { startTestLiveKitServer } from './index.js';
import type { LogLevel } from './log.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    log: { type: 'string', default: 'info' },
  },
});

const server = await startTestLiveKitServer({
  port: Number(values.port),
  host: values.host,
  log: values.log === 'none' ? false : (values.log as LogLevel),
});
process.stdout.write(`${JSON.stringify({ url: server.url, httpUrl: server.httpUrl, apiKey: server.apiKey, apiSecret: server.apiSecret, pid: process.pid })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

/**
 * Stands in for the `livekit-server` binary in `npm run dev` tests: `livekit-server --dev` starts
 * the LiveKit-protocol test server with --dev's credentials (devkey / secret) on
 * FAKE_LIVEKIT_PORT (the real one's 7880 may be taken on a test machine), and stops on SIGTERM /
 * SIGINT or when its stdin closes.
 */
import { startTestLiveKitServer } from '../livekit-server/index.js';

if (!process.argv.includes('--dev')) {
  process.stderr.write('fake livekit-server: only --dev is supported\n');
  process.exit(2);
}
const server = await startTestLiveKitServer({ port: Number(process.env.FAKE_LIVEKIT_PORT), host: '127.0.0.1', apiKey: 'devkey', apiSecret: 'secret', log: false });
process.stdout.write(`fake livekit-server --dev listening at ${server.url}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void server.close().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

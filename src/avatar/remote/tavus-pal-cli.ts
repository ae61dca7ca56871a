/**
 * Create the echo-mode, livekit-transport Tavus PAL once:
 *   TAVUS_API_KEY=… npx tsx src/avatar/remote/tavus-pal-cli.ts <default_face_id> [name]
 * Prints the PAL id to put in avatars/<name>/avatar.json as `palId`.
 */
import { createTavusEchoPal } from './tavus-pal.js';

const [faceId, name] = process.argv.slice(2);
const apiKey = process.env.TAVUS_API_KEY;
if (!apiKey || !faceId) {
  process.stderr.write('usage: TAVUS_API_KEY=… tsx src/avatar/remote/tavus-pal-cli.ts <default_face_id> [pal name]\n');
  process.exit(2);
}
try {
  const palId = await createTavusEchoPal({ apiKey, defaultFaceId: faceId, ...(name ? { name } : {}), ...(process.env.TAVUS_API_URL ? { apiUrl: process.env.TAVUS_API_URL } : {}) });
  process.stdout.write(`${palId}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}

/**
 * Measures the test server's CPU per forwarded video stream: the server runs in its own process
 * (serve.ts) so its CPU time (utime + stime from /proc) is apart from the clients'. One publisher
 * sends 640x480 @ 30 fps moving video; subscribers join one by one.
 *
 *   npx tsx test/livekit-server/measure-video-cpu.ts [--seconds 8] [--subscribers 3]
 *
 * Linux only (reads /proc). Not a test: numbers depend on the machine.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dispose } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import type { TokenOptions } from './index.js';
import { connectClient, CyclingVideo, sleep, type ConnectedClient } from './testing.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, subscribers: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const maxSubscribers = Number(values.subscribers);

const serve = fileURLToPath(new URL('./serve.ts', import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', serve, '--log', 'warn'], { stdio: ['pipe', 'pipe', 'inherit'] });
const first = await new Promise<string>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', resolve);
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const info = JSON.parse(first) as { url: string; apiKey: string; apiSecret: string; pid: number };
const server = {
  url: info.url,
  async token(t: TokenOptions) {
    const token = new AccessToken(info.apiKey, info.apiSecret, { identity: t.identity });
    token.addGrant({ roomJoin: true, room: t.room });
    return token.toJwt();
  },
};

const ticksPerSecond = 100; // USER_HZ on Linux
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime
}
async function measure(label: string): Promise<number> {
  await sleep(1_500); // let negotiation and encoder ramp-up settle
  const before = cpuSeconds(info.pid);
  await sleep(seconds * 1_000);
  const percent = ((cpuSeconds(info.pid) - before) / seconds) * 100;
  process.stdout.write(`${label.padEnd(40)} server CPU ${percent.toFixed(1)}% of one core\n`);
  return percent;
}

const clients: ConnectedClient[] = [];
try {
  const publisher = await connectClient(server, { identity: 'publisher', room: 'cpu' });
  clients.push(publisher);
  const idle = await measure('1 participant, no media');
  const video = new CyclingVideo(640, 480, 30, 'moving');
  await video.publish(publisher.room);
  const decodeOnly = await measure('video published, 0 subscribers');
  const results: number[] = [];
  for (let n = 1; n <= maxSubscribers; n++) {
    clients.push(await connectClient(server, { identity: `subscriber-${n}`, room: 'cpu' }));
    results.push(await measure(`video published, ${n} subscriber(s)`));
  }
  const perSubscriber = results.length > 1 ? (results[results.length - 1]! - results[0]!) / (results.length - 1) : NaN;
  process.stdout.write(
    `\nreceive+decode: ${(decodeOnly - idle).toFixed(1)}%, first subscriber (encode): ${(results[0]! - decodeOnly).toFixed(1)}%, each further subscriber: ${perSubscriber.toFixed(1)}% of one core\n`,
  );
  video.stop();
} finally {
  for (const client of clients) await client.room.disconnect();
  await dispose();
  child.stdin!.end();
  await new Promise((resolve) => child.once('exit', resolve));
}

/**
 * `npm run dev` (src/dev/main.ts) as a new user runs it: one command that checks the config,
 * finds LiveKit (or starts `livekit-server --dev` from the PATH, or says how to get one and exits
 * non-zero), builds and serves the page, starts the worker, prints one start-up block, and stops
 * everything on Ctrl+C. Here with a stand-in `livekit-server` script (it starts the LiveKit-protocol
 * test server) and the OpenAI fake for all three stages (OPENAI_API_KEY alone).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ParticipantInfo_Kind } from '@livekit/protocol';
import { dispose, Room } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answers } from '../src/dev/livekit.js';
import { envSchema } from '../src/config/env.js';
import { freePort } from './fakes/net.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/openai.js';
import { waitUntil } from './livekit-server/testing.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

let openai: FakeOpenAI;
const children: ChildProcessByStdio<null, Readable, Readable>[] = [];
const rooms: Room[] = [];

beforeAll(async () => {
  openai = await startFakeOpenAI();
});
afterAll(async () => {
  for (const r of rooms) await r.disconnect().catch(() => undefined);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await openai?.close();
  await dispose();
});

/** `npm run dev` in a scratch directory (no .env), with only `env` of our variables set. */
function runDev(env: Record<string, string>, path: string) {
  const base: NodeJS.ProcessEnv = {};
  const own = new Set([...Object.keys(envSchema.shape), 'NODE_OPTIONS']);
  for (const [k, v] of Object.entries(process.env)) if (!own.has(k) && !k.startsWith('VITEST') && k !== 'NODE_ENV' && k !== 'TEST') base[k] = v;
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/dev/main.ts')], {
    cwd: mkdtempSync(join(tmpdir(), 'npm-run-dev-')),
    env: { ...base, PATH: path, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, exited, out: () => out, err: () => err };
}

function env(livekitPort: number, webPort: number): Record<string, string> {
  return {
    LIVEKIT_URL: `ws://localhost:${livekitPort}`,
    OPENAI_API_KEY: 'sk-dev-command-123',
    STT_BASE_URL: openai.baseURL,
    LLM_BASE_URL: openai.baseURL,
    TTS_BASE_URL: openai.baseURL,
    AVATAR: 'voice-only',
    AVATARS_DIR: join(ROOT, 'avatars'),
    WEB_PORT: String(webPort),
    METRICS_PORT: '0',
    AGENT_GREETING: '',
    TURN_DETECTION: 'vad',
    LIVEKIT_INFERENCE_URL: 'http://127.0.0.1:9',
  };
}

/** PATH with node's own directory and the system's, but no livekit-server. */
const SYSTEM_PATH = [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');

describe('npm run dev', () => {
  it('with nothing on LIVEKIT_URL and no livekit-server on the PATH: says how to get one, and exits 69 instead of retrying', async () => {
    const dev = runDev(env(await freePort(), await freePort()), SYSTEM_PATH);
    await expect(dev.exited).resolves.toBe(69);
    expect(dev.err()).toContain('brew install livekit');
    expect(dev.err()).toContain('curl -sSL https://get.livekit.io | bash');
    expect(dev.err()).toContain('docker run --rm -p 7880:7880 -p 7881:7881 -p 7882:7882/udp livekit/livekit-server --dev');
    expect(dev.err()).toMatch(/LiveKit Cloud .*LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET/s);
  }, 60_000);

  it('starts livekit-server --dev from the PATH, the page and the worker in one command, prints one block, and stops all of it on Ctrl+C', async () => {
    const livekitPort = await freePort();
    const webPort = await freePort();
    const bin = mkdtempSync(join(tmpdir(), 'fake-livekit-bin-'));
    writeFileSync(join(bin, 'livekit-server'), `#!/bin/sh\nexec "${process.execPath}" --import "${TSX}" "${join(ROOT, 'test/support/fake-livekit-server.ts')}" "$@"\n`);
    chmodSync(join(bin, 'livekit-server'), 0o755);
    const dev = runDev({ ...env(livekitPort, webPort), FAKE_LIVEKIT_PORT: String(livekitPort) }, `${bin}:${SYSTEM_PATH}`);
    const failed = () => `npm run dev output:\n${dev.out().slice(-4000)}\n${dev.err().slice(-2000)}`;
    // The page may need building first (vite) on a fresh checkout: minutes on a busy machine.
    await waitUntil(() => {
      if (dev.child.exitCode !== null) throw new Error(`npm run dev exited ${dev.child.exitCode}; ${failed()}`);
      return dev.out().includes('voice-avatar-worker is running');
    }, 240_000, 'the start-up block').catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; ${failed()}`);
    });
    const block = dev.out().slice(dev.out().indexOf('voice-avatar-worker is running'));
    expect(block).toMatch(/speech to text +openai gpt-4o-mini-transcribe at http:\/\/127\.0\.0\.1:\d+\/v1 +\(STT_BASE_URL is set\)/);
    expect(block).toMatch(/language model +openai gpt-4\.1-mini .*\(LLM_BASE_URL is set\)/);
    expect(block).toMatch(/avatar +voice-only \(none\) +\(AVATAR=voice-only\)/);
    expect(block).toMatch(new RegExp(`LiveKit +ws://localhost:${livekitPort} +\\(livekit-server --dev, started by npm run dev\\)`));
    expect(block).toContain(`Open http://localhost:${webPort} and click "Start conversation".`);
    expect(block).not.toContain('sk-dev-command-123');

    // The page and its token endpoint answer; a user who joins with that token gets the agent.
    const page = await fetch(`http://127.0.0.1:${webPort}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root">/);
    const res = await fetch(`http://127.0.0.1:${webPort}/api/connection`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const connection = (await res.json()) as { serverUrl: string; participantToken: string };
    expect(connection.serverUrl).toBe(`ws://localhost:${livekitPort}`);
    const room = new Room();
    rooms.push(room);
    await room.connect(connection.serverUrl, connection.participantToken, { autoSubscribe: true, dynacast: false });
    await waitUntil(() => [...room.remoteParticipants.values()].some((p) => p.kind === (ParticipantInfo_Kind.AGENT as number)), 90_000, 'the agent in the room').catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; ${failed()}`);
    });
    await room.disconnect();

    dev.child.kill('SIGINT');
    await expect(dev.exited).resolves.toBe(0);
    // The LiveKit server it started is gone with it.
    expect(await answers(`ws://localhost:${livekitPort}`)).toBe(false);
  }, 400_000);
});

/**
 * `npm run doctor` against the LiveKit-protocol test server (a real RoomService call) and the
 * provider fakes (each holding one good key, refusing others with 401 as the real APIs do): the
 * checklist a user reads, the exit code, and that no secret is printed.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../src/doctor/doctor.js';
import { startFakeDeepgram, type FakeDeepgram } from './fakes/deepgram.js';
import { startFakeElevenLabs, type FakeElevenLabs } from './fakes/elevenlabs.js';
import { freePort } from './fakes/net.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/openai.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';

const KEYS = { openai: 'sk-doctor-good-0001', deepgram: 'dg-doctor-good-0001', elevenlabs: 'el-doctor-good-0001' };

let server: TestLiveKitServer;
let openai: FakeOpenAI;
let deepgram: FakeDeepgram;
let elevenlabs: FakeElevenLabs;
let webPort: number;
let metricsPort: number;

beforeAll(async () => {
  [server, openai, deepgram, elevenlabs] = await Promise.all([
    startTestLiveKitServer(),
    startFakeOpenAI({ apiKey: KEYS.openai }),
    startFakeDeepgram({ apiKey: KEYS.deepgram }),
    startFakeElevenLabs({ apiKey: KEYS.elevenlabs }),
  ]);
  webPort = await freePort();
  metricsPort = await freePort();
});
afterAll(async () => {
  await Promise.all([server?.close(), openai?.close(), deepgram?.close(), elevenlabs?.close()]);
});

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    LIVEKIT_URL: server.url,
    LIVEKIT_API_KEY: server.apiKey,
    LIVEKIT_API_SECRET: server.apiSecret,
    OPENAI_API_KEY: KEYS.openai,
    LLM_BASE_URL: openai.baseURL,
    STT_BASE_URL: openai.baseURL,
    TTS_BASE_URL: openai.baseURL,
    AVATARS_DIR: fileURLToPath(new URL('../avatars', import.meta.url)),
    WEB_PORT: String(webPort),
    METRICS_PORT: String(metricsPort),
    ...extra,
  };
}

async function doctor(e: NodeJS.ProcessEnv): Promise<{ code: number; lines: string[]; text: string }> {
  const lines: string[] = [];
  const code = await runDoctor(e, (l) => void lines.push(...l.split('\n')));
  return { code, lines, text: lines.join('\n') };
}

const line = (lines: string[], re: RegExp) => lines.find((l) => re.test(l));

describe('npm run doctor', () => {
  it('passes with good keys: one ✓ line per check, exit 0, no secret printed', async () => {
    const r = await doctor(env());
    expect(r.code, r.text).toBe(0);
    expect(line(r.lines, /^✓ Node\.js \d+\.\d+/)).toBeDefined();
    expect(line(r.lines, /^✓ opus decoder for the user's first words/)).toBeDefined();
    expect(line(r.lines, /^✓ LiveKit at ws:\/\/127\.0\.0\.1:\d+ accepts LIVEKIT_API_KEY \/ LIVEKIT_API_SECRET/)).toBeDefined();
    expect(line(r.lines, /^✓ speech to text: OpenAI-compatible server http:\/\/127\.0\.0\.1:\d+ \(STT_BASE_URL is set\): key accepted$/)).toBeDefined();
    expect(line(r.lines, /^✓ language model: .*key accepted$/)).toBeDefined();
    expect(line(r.lines, /^✓ text to speech: .*key accepted$/)).toBeDefined();
    expect(line(r.lines, /^✓ avatar profile default \(builtin/)).toBeDefined();
    expect(line(r.lines, new RegExp(`^✓ port ${webPort} \\(WEB_PORT\\) is free$`))).toBeDefined();
    expect(r.text).not.toContain(KEYS.openai);
    expect(r.text).not.toContain(server.apiSecret);
    // One authenticated GET /v1/models served all three OpenAI stages.
    expect(openai.requestsFor('models').map((q) => q.apiKey)).toEqual([KEYS.openai]);
  });

  it('checks Deepgram and ElevenLabs keys with their own cheap calls when their keys choose them', async () => {
    const r = await doctor(env({ STT_BASE_URL: deepgram.baseUrl, DEEPGRAM_API_KEY: KEYS.deepgram, TTS_BASE_URL: elevenlabs.baseURL, ELEVENLABS_API_KEY: KEYS.elevenlabs }));
    expect(r.code, r.text).toBe(0);
    expect(line(r.lines, /^✓ speech to text: Deepgram \(DEEPGRAM_API_KEY is set\): key accepted$/)).toBeDefined();
    expect(line(r.lines, /^✓ text to speech: ElevenLabs \(ELEVENLABS_API_KEY is set\): key accepted$/)).toBeDefined();
    expect(deepgram.requests.filter((q) => q.path === '/v1/projects').map((q) => q.apiKey)).toContain(KEYS.deepgram);
  });

  it('names a refused key (401) and how to fix it, and exits 1', async () => {
    const r = await doctor(env({ STT_BASE_URL: deepgram.baseUrl, DEEPGRAM_API_KEY: 'dg-doctor-wrong-9999', OPENAI_API_KEY: 'sk-doctor-wrong-9999' }));
    expect(r.code).toBe(1);
    const stt = r.lines.findIndex((l) => /^✗ speech to text: Deepgram \(DEEPGRAM_API_KEY is set\): the key was refused \(HTTP 401\)$/.test(l));
    expect(stt, r.text).toBeGreaterThanOrEqual(0);
    expect(r.lines[stt + 1]).toMatch(/^ {4}fix: set a valid DEEPGRAM_API_KEY/);
    expect(line(r.lines, /^✗ language model: .*the key was refused \(HTTP 401\)$/)).toBeDefined();
    expect(r.text).not.toMatch(/wrong-9999/);
    expect(r.lines.at(-1)).toMatch(/^3 checks failed/);
  });

  it('says what to do when LiveKit does not answer, or refuses the secret', async () => {
    const closed = await freePort();
    const down = await doctor(env({ LIVEKIT_URL: `ws://localhost:${closed}` }));
    expect(down.code).toBe(1);
    const i = down.lines.findIndex((l) => l.startsWith(`✗ LiveKit at ws://localhost:${closed}: nothing answers (ECONNREFUSED)`));
    expect(i, down.text).toBeGreaterThanOrEqual(0);
    expect(down.lines[i + 1]).toMatch(/brew install livekit.*curl -sSL https:\/\/get\.livekit\.io \| bash.*LiveKit Cloud/);

    const refused = await doctor(env({ LIVEKIT_API_SECRET: 'not-the-secret-of-this-server' }));
    expect(line(refused.lines, /^✗ LiveKit at .* refused LIVEKIT_API_KEY \/ LIVEKIT_API_SECRET \(HTTP 401\)$/), refused.text).toBeDefined();
    expect(refused.text).not.toContain('not-the-secret-of-this-server');
  });

  it('reports a malformed avatar profile, a missing avatar key and a port in use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'doctor-avatars-'));
    await mkdir(join(dir, 'broken'));
    await writeFile(join(dir, 'broken', 'avatar.json'), '{"adapter": "builtin", "widht": 640');
    const broken = await doctor(env({ AVATARS_DIR: dir, AVATAR: 'broken' }));
    expect(line(broken.lines, /^✗ avatar profile broken: /), broken.text).toBeDefined();
    expect(broken.code).toBe(1);

    await mkdir(join(dir, 'pal'));
    await writeFile(join(dir, 'pal', 'avatar.json'), JSON.stringify({ adapter: 'tavus', palId: 'p1', fallback: ['none'] }));
    const tavus = await doctor(env({ AVATARS_DIR: dir, AVATAR: 'pal' }));
    expect(line(tavus.lines, /^✗ avatar profile pal \(tavus\): TAVUS_API_KEY is not set$/), tavus.text).toBeDefined();

    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(webPort, '127.0.0.1', resolve));
    try {
      const busy = await doctor(env());
      expect(line(busy.lines, new RegExp(`^✗ port ${webPort} \\(WEB_PORT\\) on 127\\.0\\.0\\.1: in use$`)), busy.text).toBeDefined();
      expect(busy.code).toBe(1);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('runs as `npm run doctor` does: a configuration error is a ✗ line, not a stack', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/doctor/main.ts'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LIVEKIT_URL: 'ws://localhost:1', WEB_PORT: String(webPort), METRICS_PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^✗ configuration: no speech-to-text key is set; set OPENAI_API_KEY/m);
    expect(r.stderr).toBe('');
  });
});

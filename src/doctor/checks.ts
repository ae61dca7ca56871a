import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Config } from '../config/config.js';
import { ffmpegPath } from '../pipeline/pre-connect/decode.js';
import { loadAvatarProfile, type AvatarProfile } from '../config/avatar-profile.js';
import { httpOf, networkReason, probe, type ProbeResult } from './probe.js';

/** One line of the checklist. `needed: false` lines warn but do not fail the doctor. */
export interface Check {
  ok: boolean;
  needed: boolean;
  what: string;
  /** How to fix it, when not ok. */
  fix?: string;
}

const TIMEOUT_MS = 5_000;
const MIN_NODE = [20, 12] as const;

export function checkNode(version = process.versions.node): Check {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return ok
    ? { ok, needed: true, what: `Node.js ${version}` }
    : { ok, needed: true, what: `Node.js ${version} is too old (needs ${MIN_NODE.join('.')}+)`, fix: 'install Node.js 22 LTS (https://nodejs.org, or `nvm install 22`)' };
}

export function checkFfmpeg(): Promise<Check> {
  return new Promise((resolve) => {
    execFile('ffmpeg', ['-hide_banner', '-version'], { timeout: TIMEOUT_MS }, (err, stdout) => {
      if (err) {
        resolve({ ok: false, needed: false, what: 'ffmpeg not found (only `npm run render` / `converse` need it)', fix: 'macOS `brew install ffmpeg`, Debian/Ubuntu `sudo apt-get install ffmpeg`' });
      } else {
        resolve({ ok: true, needed: false, what: `ffmpeg ${/ffmpeg version (\S+)/.exec(stdout)?.[1] ?? ''} (for render / converse)`.replace('  ', ' ') });
      }
    });
  });
}

/** The decoder of the browser's pre-connect audio (the user's first words): agents' bundled ffmpeg. */
export function checkPreConnectDecoder(): Promise<Check> {
  const bin = ffmpegPath();
  return new Promise((resolve) => {
    execFile(bin, ['-hide_banner', '-decoders'], { timeout: TIMEOUT_MS }, (err, stdout) => {
      if (!err && /\bopus\b/.test(stdout)) resolve({ ok: true, needed: false, what: `opus decoder for the user's first words (${bin === 'ffmpeg' ? 'ffmpeg on the PATH' : bin})` });
      else resolve({ ok: false, needed: false, what: `no opus decoder for the user's first words (${bin}): what they say before the agent joins is dropped`, fix: 'reinstall @livekit/agents (its @livekit/av ships one), install ffmpeg, or set LIVEKIT_FFMPEG_PATH' });
    });
  });
}

/** A RoomService call (ListRooms): the server answers and takes the key and secret. */
export async function checkLiveKit(livekit: Config['livekit']): Promise<Check> {
  const client = new RoomServiceClient(httpOf(livekit.url), livekit.apiKey, livekit.apiSecret, { requestTimeout: TIMEOUT_MS / 1000 });
  try {
    const rooms = await client.listRooms();
    return { ok: true, needed: true, what: `LiveKit at ${livekit.url} accepts LIVEKIT_API_KEY / LIVEKIT_API_SECRET (${rooms.length} room${rooms.length === 1 ? '' : 's'} open)` };
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 401 || status === 403) {
      return { ok: false, needed: true, what: `LiveKit at ${livekit.url} refused LIVEKIT_API_KEY / LIVEKIT_API_SECRET (HTTP ${status})`, fix: 'use the key and secret of that server (`livekit-server --dev` uses devkey / secret; LiveKit Cloud: Settings → API keys)' };
    }
    if (status !== undefined) return { ok: false, needed: true, what: `LiveKit at ${livekit.url} answered HTTP ${status} to a RoomService call`, fix: 'check that LIVEKIT_URL is a LiveKit server' };
    return {
      ok: false,
      needed: true,
      what: `LiveKit at ${livekit.url}: nothing answers (${networkReason(err, TIMEOUT_MS)})`,
      fix: isLocal(livekit.url)
        ? 'run `npm run dev` (it starts livekit-server when installed), or start `livekit-server --dev`; install: macOS `brew install livekit`, Linux `curl -sSL https://get.livekit.io | bash`; or set LIVEKIT_URL/KEY/SECRET to a LiveKit Cloud project'
        : 'check LIVEKIT_URL and that the server is up',
    };
  }
}

export function isLocal(url: string): boolean {
  try {
    return ['localhost', '127.0.0.1', '[::1]', '::1', '0.0.0.0'].includes(new URL(httpOf(url)).hostname);
  } catch {
    return false;
  }
}

interface ProviderProbe {
  stage: string;
  name: string;
  url: string;
  headers: Record<string, string>;
  keyVariable: string;
  /** A self-hosted server without a key: any answer is good enough. */
  selfHosted: boolean;
  keyPage?: string;
}

const OPENAI = 'https://api.openai.com/v1';

/** The cheapest authenticated call per configured stage; identical calls are made once. */
export async function checkProviders(config: Config): Promise<Check[]> {
  const probes: ProviderProbe[] = [];
  const { stt, llm, tts } = config;
  if (stt.provider === 'deepgram') {
    probes.push({ stage: 'speech to text', name: 'Deepgram', url: `${stt.baseUrl ? httpOf(stt.baseUrl) : 'https://api.deepgram.com'}/v1/projects`, headers: { authorization: `Token ${stt.apiKey}` }, keyVariable: 'DEEPGRAM_API_KEY (or STT_API_KEY)', selfHosted: false, keyPage: 'https://console.deepgram.com' });
  } else {
    probes.push(openaiProbe('speech to text', stt.baseUrl, stt.apiKey, 'STT'));
  }
  probes.push(openaiProbe('language model', llm.baseUrl, llm.apiKey, 'LLM'));
  if (tts.provider === 'elevenlabs') {
    probes.push({ stage: 'text to speech', name: 'ElevenLabs', url: `${(tts.baseUrl ?? 'https://api.elevenlabs.io/v1').replace(/\/+$/, '')}/user`, headers: { 'xi-api-key': tts.apiKey }, keyVariable: 'ELEVENLABS_API_KEY (or TTS_API_KEY)', selfHosted: false, keyPage: 'https://elevenlabs.io/app/settings/api-keys' });
  } else {
    probes.push(openaiProbe('text to speech', tts.baseUrl, tts.apiKey, 'TTS'));
  }
  const done = new Map<string, Promise<ProbeResult>>();
  return Promise.all(
    probes.map(async (p) => {
      const key = `${p.url}\n${JSON.stringify(p.headers)}`;
      if (!done.has(key)) done.set(key, probe(p.url, p.headers, TIMEOUT_MS));
      return describe(p, await done.get(key)!, config.choices);
    }),
  );
}

function openaiProbe(stage: string, baseUrl: string | undefined, apiKey: string, prefix: 'STT' | 'LLM' | 'TTS'): ProviderProbe {
  const selfHosted = !!baseUrl && apiKey === 'unused';
  return {
    stage,
    name: baseUrl ? `OpenAI-compatible server ${new URL(baseUrl).origin}` : 'OpenAI',
    url: `${(baseUrl ?? OPENAI).replace(/\/+$/, '')}/models`,
    headers: selfHosted ? {} : { authorization: `Bearer ${apiKey}` },
    keyVariable: `OPENAI_API_KEY (or ${prefix}_API_KEY)`,
    selfHosted,
    ...(baseUrl ? {} : { keyPage: 'https://platform.openai.com/api-keys' }),
  };
}

function describe(p: ProviderProbe, r: ProbeResult, choices: Config['choices']): Check {
  const stageKey = p.stage === 'speech to text' ? 'stt' : p.stage === 'language model' ? 'llm' : 'tts';
  const why = choices[stageKey].because;
  const head = `${p.stage}: ${p.name} (${why})`;
  if (r.kind === 'unreachable') return { ok: false, needed: true, what: `${head}: nothing answers at ${new URL(p.url).origin} (${r.why})`, fix: p.selfHosted || !p.keyPage ? `start that server or fix its *_BASE_URL` : 'check the network (a proxy or firewall?)' };
  if (r.kind === 'refused') return { ok: false, needed: true, what: `${head}: the key was refused (HTTP ${r.status})`, fix: `set a valid ${p.keyVariable}${p.keyPage ? ` (keys: ${p.keyPage})` : ''}` };
  if (p.selfHosted) return r.status < 500 ? { ok: true, needed: true, what: `${head}: answers (HTTP ${r.status})` } : { ok: false, needed: true, what: `${head}: answered HTTP ${r.status}`, fix: 'look at that server’s logs' };
  if (r.status >= 200 && r.status < 300) return { ok: true, needed: true, what: `${head}: key accepted` };
  return { ok: false, needed: true, what: `${head}: answered HTTP ${r.status} to ${new URL(p.url).pathname}`, fix: `check the base URL and ${p.keyVariable}` };
}

/** Keys each avatar adapter needs (the launchers check the same variables when a call starts). */
const AVATAR_KEYS: Record<string, { variable: string; key: keyof Config['avatar']['keys'] }> = {
  tavus: { variable: 'TAVUS_API_KEY', key: 'tavus' },
  liveavatar: { variable: 'LIVEAVATAR_API_KEY', key: 'liveavatar' },
  bey: { variable: 'BEY_API_KEY', key: 'bey' },
  anam: { variable: 'ANAM_API_KEY', key: 'anam' },
  lemonslice: { variable: 'LEMONSLICE_API_KEY', key: 'lemonslice' },
  simli: { variable: 'SIMLI_API_KEY', key: 'simli' },
  did: { variable: 'DID_API_KEY', key: 'did' },
  runway: { variable: 'RUNWAYML_API_SECRET', key: 'runway' },
  synthesia: { variable: 'SYNTHESIA_API_KEY', key: 'synthesia' },
  trugen: { variable: 'TRUGEN_API_KEY', key: 'trugen' },
  keyframe: { variable: 'KEYFRAME_API_KEY', key: 'keyframe' },
  avatario: { variable: 'AVATARIO_API_KEY', key: 'avatario' },
  protoface: { variable: 'PROTOFACE_API_KEY', key: 'protoface' },
  bithuman: { variable: 'BITHUMAN_API_SECRET', key: 'bithuman' },
  avatartalk: { variable: 'AVATARTALK_API_KEY', key: 'avatartalk' },
  selfhosted: { variable: 'AVATAR_LAUNCH_SECRET', key: 'launchSecret' },
  diffusion: { variable: 'AVATAR_RENDERER_SECRET', key: 'rendererSecret' },
  splat: { variable: 'AVATAR_RENDERER_SECRET', key: 'rendererSecret' },
};

export async function checkAvatar(avatar: Config['avatar']): Promise<Check> {
  let profile: AvatarProfile;
  try {
    profile = await loadAvatarProfile(avatar.dir, avatar.name);
  } catch (err) {
    return { ok: false, needed: true, what: `avatar profile ${avatar.name}: ${(err as Error).message}`, fix: `fix ${avatar.dir}/${avatar.name}/avatar.json, or set AVATAR=default` };
  }
  const need = AVATAR_KEYS[profile.adapter];
  if (need && !avatar.keys[need.key]) {
    return { ok: false, needed: true, what: `avatar profile ${avatar.name} (${profile.adapter}): ${need.variable} is not set`, fix: `set ${need.variable}, or AVATAR=default for the built-in face` };
  }
  const chain = profile.fallback.length ? `, falls back to ${profile.fallback.join(' → ')}` : '';
  return { ok: true, needed: true, what: `avatar profile ${avatar.name} (${profile.adapter}${chain})` };
}

/** The ports this project listens on, free now (a running `npm run dev` holds them). */
export async function checkPorts(ports: { port: number; host: string; variable: string }[]): Promise<Check[]> {
  return Promise.all(
    ports.map(async ({ port, host, variable }) => {
      const err = await tryListen(port, host);
      if (!err) return { ok: true, needed: true, what: `port ${port} (${variable}) is free` };
      return { ok: false, needed: true, what: `port ${port} (${variable}) on ${host}: ${err}`, fix: `stop what holds it (\`lsof -i :${port}\`; an \`npm run dev\` already running?) or set ${variable}` };
    }),
  );
}

function tryListen(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE' ? 'in use' : (e.code ?? e.message)));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

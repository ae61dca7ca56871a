import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { envSchema } from '../src/config/env.js';
import { runnerEnvSchema } from '../src/avatar/runner/env.js';
import { loadAvatarProfile } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';

const keys = { DEEPGRAM_API_KEY: 'dg-key-123456', OPENAI_API_KEY: 'sk-test-abcdef' };

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config from the environment', () => {
  it('defaults to livekit-server --dev and the built-in avatar', () => {
    const c = loadConfig(keys);
    expect(c.livekit).toEqual({ url: 'ws://localhost:7880', apiKey: 'devkey', apiSecret: 'secret' });
    expect(c.avatar.name).toBe('default');
    expect(c.stt.provider).toBe('deepgram');
    expect(c.tts.provider).toBe('openai');
    expect(c.turn.preemptiveGeneration).toBe(true);
  });

  it('names the missing key and how to fix it', () => {
    const none = configError({});
    expect(none.variable).toBe('OPENAI_API_KEY');
    expect(none.message).toMatch(/OPENAI_API_KEY .*serves speech to text, the language model and the voice.*DEEPGRAM_API_KEY/);
    const err = configError({ STT_PROVIDER: 'deepgram', OPENAI_API_KEY: 'sk-test-abcdef' });
    expect(err.variable).toBe('STT_API_KEY');
    expect(err.message).toMatch(/DEEPGRAM_API_KEY/);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('follows the keys present when no provider is named', () => {
    const openai = loadConfig({ OPENAI_API_KEY: 'sk-test-abcdef' });
    expect([openai.stt.provider, openai.llm.provider, openai.tts.provider]).toEqual(['openai', 'openai', 'openai']);
    expect(openai.choices.stt.because).toBe('OPENAI_API_KEY is set');
    expect(openai.choices.notes).toEqual([]);

    const all = loadConfig({ OPENAI_API_KEY: 'sk-test-abcdef', DEEPGRAM_API_KEY: 'dg-key-123456', ELEVENLABS_API_KEY: 'el-key-123456' });
    expect([all.stt.provider, all.tts.provider]).toEqual(['deepgram', 'elevenlabs']);
    expect(all.choices.tts.because).toBe('ELEVENLABS_API_KEY is set');
  });

  it('lets an explicit *_PROVIDER win and mentions a key it leaves unused, once, without failing', () => {
    const c = loadConfig({ STT_PROVIDER: 'openai', TTS_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test-abcdef', DEEPGRAM_API_KEY: 'dg-key-123456', ELEVENLABS_API_KEY: 'el-key-123456' });
    expect([c.stt.provider, c.tts.provider]).toEqual(['openai', 'openai']);
    expect(c.choices.stt.because).toBe('STT_PROVIDER=openai');
    expect(c.choices.notes).toHaveLength(2);
    expect(c.choices.notes[0]).toMatch(/^DEEPGRAM_API_KEY is set but speech to text uses openai \(STT_PROVIDER=openai\)/);
    expect(c.choices.notes.join(' ')).not.toMatch(/dg-key|el-key|sk-test/);
  });

  it('names a malformed variable and shows what it got', () => {
    const err = configError({ ...keys, LLM_BASE_URL: 'localhost:11434' });
    expect(err.variable).toBe('LLM_BASE_URL');
    expect(err.message).toContain('"localhost:11434"');
    const bad = configError({ ...keys, ENDPOINTING_MIN_DELAY_MS: 'soon' });
    expect(bad.variable).toBe('ENDPOINTING_MIN_DELAY_MS');
    const order = configError({ ...keys, ENDPOINTING_MIN_DELAY_MS: '900', ENDPOINTING_MAX_DELAY_MS: '500' });
    expect(order.variable).toBe('ENDPOINTING_MAX_DELAY_MS');
  });

  it('lets self-hosted OpenAI-compatible servers run without keys', () => {
    const c = loadConfig({
      STT_PROVIDER: 'openai',
      STT_BASE_URL: 'http://localhost:8000/v1',
      LLM_BASE_URL: 'http://localhost:11434/v1',
      LLM_MODEL: 'llama3.2',
      TTS_BASE_URL: 'http://localhost:8880/v1',
      TTS_VOICE: 'af_heart',
    });
    expect(c.llm).toMatchObject({ baseUrl: 'http://localhost:11434/v1', model: 'llama3.2' });
    expect(c.secrets).toEqual([]);
  });

  it('treats empty values from a .env file as unset, except an empty greeting', () => {
    const c = loadConfig({ ...keys, AGENT_INSTRUCTIONS: '', LLM_BASE_URL: '', AGENT_GREETING: '' });
    expect(c.agent.instructions.length).toBeGreaterThan(10);
    expect(c.llm.baseUrl).toBeUndefined();
    expect(c.agent.greeting).toBe('');
  });

  it('never echoes a secret in an error', () => {
    const err = configError({ ...keys, LIVEKIT_API_SECRET: '', OPENAI_API_KEY: 'sk-secret-value', LLM_TEMPERATURE: '9' });
    expect(err.message).not.toContain('sk-secret-value');
  });

  it('documents every variable in .env.example', () => {
    const example = readFileSync('.env.example', 'utf8');
    const documented = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const known = new Set([...Object.keys(envSchema.shape), ...Object.keys(runnerEnvSchema.shape)]);
    expect([...known].filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !known.has(k!))).toEqual([]);
  });
});

describe('secrets in logs', () => {
  it('scrubs configured secrets wherever they appear in a line', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', secrets: ['sk-live-123456789'], destination: { write: (l: string) => void lines.push(l) } });
    logger.info({ url: 'https://x/?key=sk-live-123456789' }, 'calling with sk-live-123456789');
    logger.error({ err: new Error('401 for key sk-live-123456789') }, 'failed');
    expect(lines.join('')).not.toContain('sk-live-123456789');
    expect(lines.join('')).toContain('[secret]');
  });
});

describe('avatar profiles', () => {
  it('loads the default built-in profile', async () => {
    const p = await loadAvatarProfile('avatars', 'default');
    expect(p).toMatchObject({ adapter: 'builtin', width: 512, height: 512, fps: 25 });
  });
  it('refuses a misspelt field instead of silently using the default', async () => {
    const { mkdtemp, mkdir, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'profiles-'));
    await mkdir(join(dir, 'face'));
    await writeFile(join(dir, 'face', 'avatar.json'), JSON.stringify({ adapter: 'builtin', widht: 640, fallback: ['none'] }));
    await expect(loadAvatarProfile(dir, 'face')).rejects.toThrow(/unknown field widht for adapter builtin; known fields: .*width/);
  });
  it('names the profiles that exist when AVATAR points nowhere', async () => {
    await expect(loadAvatarProfile('avatars', 'nobody')).rejects.toThrow(/AVATAR=nobody.*available: default/);
  });
});

describe('start-up with bad config', () => {
  it('exits non-zero with one line naming the variable', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, OPENAI_API_KEY: 'sk-test-abcdef', STT_PROVIDER: 'whisper' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^config error: STT_PROVIDER must be deepgram or openai/);
  });
});

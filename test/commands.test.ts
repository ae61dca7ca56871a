import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rms } from '../src/audio/pcm.js';
import { encodeWav, parseWav } from '../src/audio/wav.js';
import { startFakeDeepgram, type FakeDeepgram } from './fakes/deepgram.js';
import { startFakeOpenAI, type FakeOpenAI } from './fakes/openai.js';
import { speechWithSilence, synthesize } from './fakes/speech.js';

const dir = mkdtempSync(join(tmpdir(), 'avatar-cmd-'));

function probe(file: string): { streams: { codec_type: string; width?: number; height?: number; avg_frame_rate?: string }[]; format: { duration: string } } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** Decode the file's audio back to 16 kHz mono PCM. */
function decodedAudio(file: string): Int16Array {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'wav', '-ac', '1', '-ar', '16000', 'pipe:1'], { maxBuffer: 64 << 20 });
  return parseWav(new Uint8Array(r.stdout)).samples;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run render', () => {
  it('turns a recording into an MP4 of the talking face with the same audio', async () => {
    const speech = await synthesize('Hello, I am the built in avatar, and this is my voice.', { sampleRate: 22050 });
    const wav = join(dir, 'hello.wav');
    writeFileSync(wav, encodeWav({ sampleRate: 22050, channels: 1, samples: speech.samples }));
    const out = join(dir, 'hello.mp4');
    const r = await run(['render', '--avatar', 'default', '--audio', wav, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*hello\.mp4: \d+ frames at 25 fps/);

    const info = probe(out);
    const video = info.streams.find((s) => s.codec_type === 'video')!;
    expect(video).toMatchObject({ width: 512, height: 512, avg_frame_rate: '25/1' });
    expect(info.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    const seconds = speech.samples.length / 22050;
    expect(Number(info.format.duration)).toBeGreaterThan(seconds);
    expect(Number(info.format.duration)).toBeLessThan(seconds + 1);
    // The voice in the file is the voice that went in (loud where the input is loud).
    const audio = decodedAudio(out);
    expect(rms(audio)).toBeGreaterThan(0.02);
  });

  it('says what is wrong with the arguments or the input', async () => {
    const missing = await run(['render', '--out', join(dir, 'x.mp4')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--audio is required/);
    const notWav = join(dir, 'not.wav');
    writeFileSync(notWav, 'hello');
    const bad = await run(['render', '--audio', notWav, '--out', join(dir, 'x.mp4')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a WAV file.*ffmpeg -i/);
    const noAvatar = await run(['render', '--avatar', 'nobody', '--audio', notWav, '--out', join(dir, 'x.mp4')]);
    expect(noAvatar.stderr).toMatch(/AVATAR=nobody: no profile/);
  });
});

describe('npm run converse', () => {
  let deepgram: FakeDeepgram | undefined;
  let openai: FakeOpenAI | undefined;
  afterEach(async () => {
    await deepgram?.close();
    await openai?.close();
  });

  it('answers a recorded question with the configured providers and prints the turn timings', async () => {
    deepgram = await startFakeDeepgram({ transcripts: ['What colour is the sky?'] });
    openai = await startFakeOpenAI({ reply: 'The sky is blue on a clear day.' });
    const question = await speechWithSilence('What colour is the sky?', { sampleRate: 16000, leadMs: 300, trailMs: 1200 });
    const input = join(dir, 'question.wav');
    writeFileSync(input, encodeWav({ sampleRate: 16000, channels: 1, samples: question.samples }));
    const out = join(dir, 'reply.mp4');
    const r = await run(['converse', '--input', input, '--out', out, '--timeout', '60'], {
      DEEPGRAM_API_KEY: 'dg-secret-key-42',
      STT_BASE_URL: deepgram.baseUrl,
      LLM_BASE_URL: openai.baseURL,
      TTS_BASE_URL: openai.baseURL,
      OPENAI_API_KEY: 'sk-secret-key-42',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('user: What colour is the sky?');
    expect(r.stdout).toContain('assistant: The sky is blue on a clear day.');
    expect(r.stdout).toMatch(/turn: transcript -?\d+ ms → llm -?\d+ ms → tts \d+ ms → avatar \d+ ms/);
    expect(r.stdout + r.stderr).not.toMatch(/dg-secret-key-42|sk-secret-key-42/);

    const info = probe(out);
    expect(info.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 512, height: 512 });
    // The reply is in the file: a couple of seconds of speech after the wait for the answer.
    const audio = decodedAudio(out);
    expect(rms(audio)).toBeGreaterThan(0.01);
    expect(Number(info.format.duration)).toBeGreaterThan(2);
  }, 120_000); // a whole subprocess pipeline: start-up, VAD load, the turn, encoding

  it('stops with the variable to fix when the config is incomplete', async () => {
    writeFileSync(join(dir, 'q.wav'), readFileSync(join(dir, 'question.wav')));
    // OpenAI alone is a whole pipeline now; asking for Deepgram without its key is not.
    const r = await run(['converse', '--input', join(dir, 'q.wav'), '--out', join(dir, 'r.mp4')], { OPENAI_API_KEY: 'sk-x-123456', STT_PROVIDER: 'deepgram' });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/config error: STT_API_KEY/);
  });
});

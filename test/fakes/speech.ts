/**
 * Real (robotic) speech for the fakes and the tests, from the `espeak-ng` binary: the fake TTS
 * servers speak with it, and tests feed it to STT clients as a user's utterance. Real audio keeps
 * energy-based voice activity detection and durations honest, without shipping recordings.
 * `flite` (CMU's diphone and clustergen voices, another engine with other prosody) is there for
 * benches that want voices unlike espeak-ng's.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWav, toMono } from '../../src/audio/wav.js';

export interface SpeechAudio {
  sampleRate: number;
  /** Mono PCM16. */
  samples: Int16Array;
}

export interface SynthesizeOptions {
  /** Output sample rate; espeak-ng renders at 22050 Hz and is resampled to this. Default 22050. */
  sampleRate?: number;
  /** espeak-ng voice name, e.g. `en-us`, `en-gb`. Default `en-us`. */
  voice?: string;
  /** Speaking rate; espeak-ng's default is 175. */
  wordsPerMinute?: number;
  /** Default espeak-ng. flite voices: slt, awb, rms, kal16, kal; its rate is scaled from 175 wpm. */
  engine?: SpeechEngine;
}

export type SpeechEngine = 'espeak-ng' | 'flite';

export const ESPEAK_SAMPLE_RATE = 22_050;
const DEFAULT_VOICE = 'en-us';
const DEFAULT_WPM = 175;
/** Enough for every phrase of a test run; bounded so a long-lived process cannot grow without end. */
const CACHE_LIMIT = 256;

const cache = new Map<string, Promise<SpeechAudio>>();

/** Speaks `text` with espeak-ng. Results are cached by (text, options); each call gets its own copy. */
export async function synthesize(text: string, options: SynthesizeOptions = {}): Promise<SpeechAudio> {
  const sampleRate = options.sampleRate ?? ESPEAK_SAMPLE_RATE;
  const voice = options.voice ?? DEFAULT_VOICE;
  const wpm = options.wordsPerMinute ?? DEFAULT_WPM;
  const engine = options.engine ?? 'espeak-ng';
  const key = JSON.stringify([text, sampleRate, voice, wpm, engine]);
  let pending = cache.get(key);
  if (!pending) {
    pending = (engine === 'flite' ? renderFlite(text, voice, wpm) : render(text, voice, wpm)).then((audio) => ({
      sampleRate,
      samples: resampleLinear(audio.samples, audio.sampleRate, sampleRate),
    }));
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
    if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  }
  const audio = await pending;
  return { sampleRate: audio.sampleRate, samples: audio.samples.slice() };
}

export interface UtteranceOptions extends SynthesizeOptions {
  /** Silence before the speech. Default 300 ms. */
  leadMs?: number;
  /** Silence after the speech, long enough for a server's endpointing. Default 1000 ms. */
  trailMs?: number;
}

/** A "question.wav"-style utterance: silence, the spoken text, silence. Default 16 kHz. */
export async function speechWithSilence(text: string, options: UtteranceOptions = {}): Promise<SpeechAudio> {
  const sampleRate = options.sampleRate ?? 16_000;
  const speech = await synthesize(text, { ...options, sampleRate });
  const lead = msToSamples(options.leadMs ?? 300, sampleRate);
  const trail = msToSamples(options.trailMs ?? 1000, sampleRate);
  const samples = new Int16Array(lead + speech.samples.length + trail);
  samples.set(speech.samples, lead);
  return { sampleRate, samples };
}

/** Digital silence of the given length. */
export function silence(ms: number, sampleRate: number): SpeechAudio {
  return { sampleRate, samples: new Int16Array(msToSamples(ms, sampleRate)) };
}

export function durationMs(audio: SpeechAudio): number {
  return (audio.samples.length / audio.sampleRate) * 1000;
}

/** Root mean square of PCM16 samples, in PCM16 units (0..32768). */
export function rms(samples: Int16Array, start = 0, end = samples.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / (end - start));
}

/** Linear-interpolation resampling: crude, but a fake's audio only has to be speech-like. */
export function resampleLinear(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to || samples.length === 0) return samples.slice();
  const out = new Int16Array(Math.round((samples.length * to) / from));
  const step = from / to;
  const last = samples.length - 1;
  for (let i = 0; i < out.length; i++) {
    const pos = i * step;
    const i0 = Math.min(Math.floor(pos), last);
    const i1 = Math.min(i0 + 1, last);
    const frac = pos - i0;
    out[i] = Math.round(samples[i0]! * (1 - frac) + samples[i1]! * frac);
  }
  return out;
}

function msToSamples(ms: number, sampleRate: number): number {
  return Math.round((ms / 1000) * sampleRate);
}

async function renderFlite(text: string, voice: string, wpm: number): Promise<SpeechAudio> {
  if (text.trim() === '') return { sampleRate: 16_000, samples: new Int16Array(0) };
  const dir = await mkdtemp(join(tmpdir(), 'flite-'));
  try {
    // Text from a file, never argv (a leading "-"); flite's only output is a file.
    await writeFile(join(dir, 'in.txt'), text);
    const stretch = (DEFAULT_WPM / wpm).toFixed(3);
    await runTool('flite', ['-voice', voice === DEFAULT_VOICE ? 'slt' : voice, '--setf', `duration_stretch=${stretch}`, '-f', join(dir, 'in.txt'), '-o', join(dir, 'out.wav')], {
      notInstalled: 'flite is not installed: apt-get install flite',
    });
    const audio = toMono(parseWav(await readFile(join(dir, 'out.wav')), 'flite output'));
    return { sampleRate: audio.sampleRate, samples: audio.samples };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a speech engine to completion: its stdout, or an error that names it and how to install it. */
async function runTool(command: string, args: string[], opts: { input?: string; notInstalled: string }): Promise<Buffer> {
  const child = spawn(command, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (child.stdin) {
    child.stdin.on('error', () => {}); // reported through 'error'/'close' below
    child.stdin.end(opts.input);
  }
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(opts.notInstalled) : new Error(`${command} failed to start: ${err.message}`));
    });
    child.once('close', resolve);
  });
  if (code !== 0) {
    throw new Error(`${command} exited with code ${code}: ${Buffer.concat(stderr).toString().trim()}`);
  }
  return Buffer.concat(stdout);
}

async function render(text: string, voice: string, wpm: number): Promise<SpeechAudio> {
  if (text.trim() === '') return { sampleRate: ESPEAK_SAMPLE_RATE, samples: new Int16Array(0) };
  // Text goes through stdin, never argv: a text starting with "-" would otherwise be read as an option.
  const stdout = await runTool('espeak-ng', ['--stdout', '--stdin', '-v', voice, '-s', String(Math.round(wpm))], {
    input: text,
    notInstalled: 'espeak-ng is not installed (the fake speech servers and speech tests need it): apt-get install espeak-ng',
  });
  const audio = toMono(parseWav(stdout, 'espeak-ng output'));
  return { sampleRate: audio.sampleRate, samples: audio.samples };
}

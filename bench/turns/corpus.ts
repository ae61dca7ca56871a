/**
 * The user turns the turn-taking bench plays into the room: a folder of WAVs and a manifest.
 *
 * Format (any corpus, recorded or synthetic): `manifest.json` is an array of
 * `{ "wav": "x.wav", "text": "what is said" }` in playing order; each WAV is one whole user turn,
 * 16-bit PCM (mono; other channel counts are downmixed), any sample rate, silence before the
 * speech and possibly pauses inside it. Where speech is, and so where the user's last word ends,
 * is read from the audio itself, with a noise floor measured per file, so quiet or noisy
 * recordings work as well as synthetic ones.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseWav, toMono } from '../../src/audio/wav.js';
import { rms } from '../../src/audio/pcm.js';

export const manifestSchema = z
  .array(
    z.object({
      wav: z.string().min(1, 'each entry needs "wav": the file name of one user turn, relative to the corpus folder'),
      text: z.string().trim().min(1, 'each entry needs "text": what is said in that WAV (the fake STT transcribes it as this)'),
    }),
  )
  .min(1, 'the manifest lists no turns');

export type Manifest = z.infer<typeof manifestSchema>;

/** One stretch of speech inside a turn, in ms from the start of the WAV. */
export interface Span {
  startMs: number;
  endMs: number;
}

export interface CorpusTurn {
  /** The WAV's file name, for the report. */
  name: string;
  text: string;
  sampleRate: number;
  /** Mono PCM16 at `sampleRate`. */
  samples: Int16Array;
  /** Speech stretches, split at pauses of at least PAUSE_MS; the last one ends with the last word. */
  speech: Span[];
  /** RMS (PCM16) above which a 10 ms window of this file counts as speech. */
  threshold: number;
}

/** Pauses shorter than this are inside a phrase (espeak-ng pauses ~150 ms at commas, people similar). */
export const PAUSE_MS = 200;
const WINDOW_MS = 10;

export async function loadCorpus(dir: string): Promise<CorpusTurn[]> {
  const root = resolve(dir);
  const manifestPath = join(root, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (err) {
    throw new Error(`--corpus ${dir}: cannot read ${manifestPath} (${(err as Error).message}); it must be a JSON array of {"wav": "x.wav", "text": "..."}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`--corpus ${dir}: manifest.json at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const turns: CorpusTurn[] = [];
  for (const entry of parsed.data) {
    const path = join(root, entry.wav);
    const audio = toMono(parseWav(await readFile(path), path));
    const threshold = speechThreshold(audio.samples, audio.sampleRate);
    const speech = speechSpans(audio.samples, audio.sampleRate, threshold);
    if (speech.length === 0) throw new Error(`--corpus ${dir}: ${entry.wav} holds no speech (nothing above the noise floor); remove it from manifest.json`);
    turns.push({ name: entry.wav, text: entry.text, sampleRate: audio.sampleRate, samples: audio.samples, speech, threshold });
  }
  return turns;
}

/**
 * Speech threshold for one recording: well above its noise floor (the quietest tenth of its
 * windows), never below a fixed minimum so digital silence does not make breath count as speech.
 */
export function speechThreshold(samples: Int16Array, sampleRate: number): number {
  const levels = windowLevels(samples, sampleRate).sort((a, b) => a - b);
  const floor = levels[Math.floor(levels.length * 0.1)] ?? 0;
  const peak = levels[Math.floor(levels.length * 0.95)] ?? 0;
  // 4× the floor (+12 dB), but at most a tenth of the loud level, so a noisy file still has speech.
  return Math.max(150, Math.min(floor * 4, peak / 10));
}

/** Stretches of windows above `threshold`, merged across pauses shorter than PAUSE_MS. */
export function speechSpans(samples: Int16Array, sampleRate: number, threshold: number): Span[] {
  const levels = windowLevels(samples, sampleRate);
  const spans: Span[] = [];
  for (let i = 0; i < levels.length; i++) {
    if (levels[i]! <= threshold) continue;
    const startMs = i * WINDOW_MS;
    const endMs = (i + 1) * WINDOW_MS;
    const last = spans.at(-1);
    if (last && startMs - last.endMs < PAUSE_MS) last.endMs = endMs;
    else spans.push({ startMs, endMs });
  }
  // A click or breath shorter than 60 ms is not a word.
  return spans.filter((s) => s.endMs - s.startMs >= 60);
}

function windowLevels(samples: Int16Array, sampleRate: number): number[] {
  const size = Math.round((sampleRate * WINDOW_MS) / 1000);
  const levels: number[] = [];
  // PCM16 units (pcm.ts gives 0..1), like the fakes' thresholds.
  for (let at = 0; at + size <= samples.length; at += size) levels.push(rms(samples, at, at + size) * 32768);
  return levels;
}

/**
 * The words of `text`, shared out over the speech stretches: what a streaming recognizer finalises
 * at each pause. Each boundary goes where the stretches' durations put it, moved by up to two
 * words to a word that ends with punctuation ("Hi, | can you hear me?", "my booking... | to
 * Thursday"), since transcripts mark pauses that way. Every stretch gets at least one word while
 * words last; an ellipsis is a pause mark, not a word, and is dropped.
 */
export function wordsPerSpan(text: string, spans: readonly Span[]): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const clean = (w: string[]) => w.map((x) => x.replace(/(\.\.\.|…)$/, '')).filter(Boolean).join(' ');
  if (spans.length <= 1) return [clean(words)];
  const total = spans.reduce((sum, s) => sum + (s.endMs - s.startMs), 0);
  const pauseAfter = (i: number) => /[,.;:!?…]$/.test(words[i - 1] ?? '');
  const out: string[] = [];
  let used = 0;
  let elapsed = 0;
  spans.forEach((span, i) => {
    elapsed += span.endMs - span.startMs;
    const left = spans.length - i - 1;
    const hi = words.length - left;
    let upTo = words.length;
    if (i < spans.length - 1) {
      const target = Math.min(hi, Math.max(used + 1, Math.round((words.length * elapsed) / total)));
      const candidates = [0, -1, 1, -2, 2].map((d) => target + d).filter((k) => k >= used + 1 && k <= hi && pauseAfter(k));
      upTo = candidates[0] ?? target;
    }
    out.push(clean(words.slice(used, Math.max(used, upTo))));
    used = Math.max(used, upTo);
  });
  return out;
}

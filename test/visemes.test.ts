import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseWav, toMono } from '../src/audio/wav.js';
import { MOUTH_BLENDSHAPES, type Blendshapes } from '../src/avatar/visemes/blendshapes.js';
import { createVisemeEngine } from '../src/avatar/visemes/index.js';
import { Fft } from '../src/avatar/visemes/fft.js';
import { pearson } from './support/avatar-measures.js';


const FPS = 25;

interface Speech {
  sampleRate: number;
  samples: Int16Array;
}

const cache = new Map<string, Speech>();
function speak(text: string, voice = 'en-us', speed = 160): Speech {
  const key = `${voice}|${speed}|${text}`;
  let s = cache.get(key);
  if (!s) {
    const wav = execFileSync('espeak-ng', ['--stdout', '-v', voice, '-s', String(speed), text]);
    const pcm = toMono(parseWav(new Uint8Array(wav.buffer, wav.byteOffset, wav.byteLength), 'espeak-ng'));
    s = { sampleRate: pcm.sampleRate, samples: pcm.samples };
    cache.set(key, s);
  }
  return s;
}

function gain(s: Speech, db: number): Speech {
  const g = 10 ** (db / 20);
  return { sampleRate: s.sampleRate, samples: s.samples.map((v) => Math.max(-32768, Math.min(32767, Math.round(v * g)))) };
}

/** Windowed-sinc resampler (good enough to move speech between 16/22.05/48 kHz without aliasing). */
function resample(s: Speech, rate: number): Speech {
  const ratio = rate / s.sampleRate;
  const out = new Int16Array(Math.floor(s.samples.length * ratio));
  const cutoff = Math.min(1, ratio) * 0.95;
  const half = 24;
  for (let i = 0; i < out.length; i++) {
    const t = i / ratio;
    const c = Math.floor(t);
    let acc = 0;
    let wsum = 0;
    for (let k = c - half + 1; k <= c + half; k++) {
      if (k < 0 || k >= s.samples.length) continue;
      const x = t - k;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x * cutoff) / (Math.PI * x * cutoff);
      const w = 0.5 + 0.5 * Math.cos((Math.PI * x) / half);
      acc += s.samples[k]! * sinc * w;
      wsum += sinc * w;
    }
    out[i] = Math.max(-32768, Math.min(32767, Math.round(acc / (wsum || 1))));
  }
  return { sampleRate: rate, samples: out };
}

function silence(sampleRate: number, ms: number): Int16Array {
  return new Int16Array(Math.round((sampleRate * ms) / 1000));
}

function concat(sampleRate: number, ...parts: Int16Array[]): Speech {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { sampleRate, samples: out };
}

interface Track {
  frames: Blendshapes[];
  jaw: number[];
  rms: number[];
}

/** Feed audio through an engine one video frame at a time, as the avatar does. */
function drive(s: Speech, engine = createVisemeEngine({ fps: FPS })): Track {
  const n = Math.round(s.sampleRate / FPS);
  const frames: Blendshapes[] = [];
  const jaw: number[] = [];
  const rms: number[] = [];
  for (let i = 0; i + n <= s.samples.length; i += n) {
    const chunk = s.samples.subarray(i, i + n);
    let e = 0;
    for (const v of chunk) e += v * v;
    rms.push(Math.sqrt(e / n));
    const b = engine.frame(chunk, s.sampleRate);
    frames.push(b);
    jaw.push(b.jawOpen ?? 0);
  }
  return { frames, jaw, rms };
}


/** Correlation of a[i] with b[i + lag]. */
function laggedPearson(a: number[], b: number[], lag: number): number {
  if (lag >= 0) return pearson(a.slice(0, a.length - lag), b.slice(lag));
  return pearson(a.slice(-lag), b.slice(0, b.length + lag));
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const quantile = (xs: number[], q: number) => [...xs].sort((p, r) => p - r)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const w = (b: Blendshapes, k: keyof Blendshapes) => b[k] ?? 0;

const SENTENCE = 'The quick brown fox jumps over the lazy dog. How are you doing today? I hope the weather is nice where you are.';
const VOICES: Array<[string, number]> = [
  ['en-us', 160],
  ['en+f3', 200],
  ['en-gb', 140],
  ['en+m3', 175],
];

describe('FFT', () => {
  it('finds a pure tone in the right bin and keeps Parseval', () => {
    const n = 512;
    const fft = new Fft(n);
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let i = 0; i < n; i++) re[i] = Math.cos((2 * Math.PI * 37 * i) / n);
    const energy = re.reduce((s, v) => s + v * v, 0);
    fft.transform(re, im);
    let spec = 0;
    let best = 0;
    for (let k = 0; k < n; k++) {
      const p = re[k]! ** 2 + im[k]! ** 2;
      spec += p;
      if (k < n / 2 && p > re[best]! ** 2 + im[best]! ** 2) best = k;
    }
    expect(best).toBe(37);
    expect(spec / n).toBeCloseTo(energy, 6);
    expect(() => new Fft(300)).toThrow(RangeError);
  });
});

describe('viseme engine: basics', () => {
  it('keeps a closed mouth on digital silence and near-silent noise', () => {
    const e = createVisemeEngine();
    for (const rate of [16000, 22050, 24000, 44100, 48000]) {
      for (let i = 0; i < 30; i++) {
        const b = e.frame(silence(rate, 40), rate);
        expect(b.jawOpen ?? 0).toBeLessThan(0.05);
        for (const v of Object.values(b)) expect(v).toBe(0);
      }
    }
    // -80 dBFS hiss: below the gate.
    const hiss = new Int16Array(640).map((_, i) => Math.round(3 * Math.sin(i * 12.9898) * 43758.5453) % 4);
    for (let i = 0; i < 20; i++) expect(e.frame(hiss, 16000).jawOpen ?? 0).toBeLessThan(0.05);
  });

  it('outputs only ARKit mouth names, clamped to 0..1, left/right symmetric', () => {
    const names = new Set<string>(MOUTH_BLENDSHAPES);
    const loud = gain(speak(SENTENCE), 12); // clipped on purpose
    for (const b of drive(loud).frames) {
      for (const [k, v] of Object.entries(b)) {
        expect(names.has(k), k).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(Number.isFinite(v)).toBe(true);
      }
      expect(w(b, 'mouthSmileLeft')).toBe(w(b, 'mouthSmileRight'));
      expect(w(b, 'mouthStretchLeft')).toBe(w(b, 'mouthStretchRight'));
    }
  });

  it('copes with empty and odd-sized frames', () => {
    const e = createVisemeEngine();
    expect(e.frame(new Int16Array(0), 16000).jawOpen ?? 0).toBe(0);
    const s = speak('hello there', 'en-us');
    for (let i = 0; i + 333 <= s.samples.length; i += 333) {
      const b = e.frame(s.samples.subarray(i, i + 333), s.sampleRate);
      expect(Number.isFinite(b.jawOpen ?? 0)).toBe(true);
    }
  });
});

describe('viseme engine on espeak-ng speech', () => {
  it('jawOpen follows the loudness envelope for several voices, speeds and levels', () => {
    for (const [voice, speed] of VOICES) {
      const s = speak(SENTENCE, voice, speed);
      for (const db of [0, -20]) {
        const t = drive(gain(s, db));
        const r = pearson(t.jaw, t.rms);
        expect(r, `${voice} ${speed} wpm at ${db} dB: r=${r.toFixed(3)}`).toBeGreaterThan(0.6);
      }
    }
  });

  it('opens the mouth fully for a quiet voice as well as a loud one (automatic gain)', () => {
    const s = speak(SENTENCE, 'en-us', 160);
    const loud = drive(s);
    const quiet = drive(gain(s, -20));
    // Stressed vowels: the loudest 10 % of frames.
    expect(quantile(loud.jaw, 0.9)).toBeGreaterThan(0.8);
    expect(quantile(quiet.jaw, 0.9)).toBeGreaterThan(0.75);
    // Same speech, 20 dB apart: nearly the same mouth once the gain has settled (after the first second).
    const settled = (xs: number[]) => xs.slice(FPS);
    expect(mean(settled(quiet.jaw))).toBeGreaterThan(mean(settled(loud.jaw)) * 0.85);
    expect(pearson(settled(quiet.jaw), settled(loud.jaw))).toBeGreaterThan(0.9);
  });

  it('reacts in the frame the sound starts and peaks with the audio', () => {
    const s = speak('bah', 'en-us', 140);
    const padded = concat(s.sampleRate, silence(s.sampleRate, 400), s.samples, silence(s.sampleRate, 400));
    const t = drive(padded);
    const peakRms = t.rms.indexOf(Math.max(...t.rms));
    const peakJaw = t.jaw.indexOf(Math.max(...t.jaw));
    expect(Math.abs(peakJaw - peakRms)).toBeLessThanOrEqual(1);
    // First frame with real energy (a quarter of the peak) already shows an open mouth.
    const onset = t.rms.findIndex((v) => v > 0.25 * t.rms[peakRms]!);
    expect(t.jaw[onset]!).toBeGreaterThan(0.3);
    expect(Math.max(...t.jaw.slice(0, onset - 1))).toBeLessThan(0.05);
    // And it closes within a few frames after the sound stops.
    const last = t.rms.length - 1 - [...t.rms].reverse().findIndex((v) => v > 0.05 * t.rms[peakRms]!);
    expect(t.jaw[last + 4] ?? 0).toBeLessThan(0.05);
  });

  it('has no lag against the loudness envelope over a whole sentence', () => {
    for (const [voice, speed] of VOICES.slice(0, 2)) {
      const t = drive(speak(SENTENCE, voice, speed));
      const byLag = [-2, -1, 0, 1, 2].map((lag) => ({ lag, r: laggedPearson(t.rms, t.jaw, lag) }));
      const best = byLag.reduce((a, b) => (b.r > a.r ? b : a));
      expect(Math.abs(best.lag), JSON.stringify(byLag)).toBeLessThanOrEqual(1);
      expect(best.r).toBeGreaterThan(0.6);
    }
  });

  it('opens the jaw widest within one frame of each syllable\'s loudest audio', () => {
    for (const [voice, speed] of [['en-us', 150], ['en+f3', 190], ['en-gb', 130]] as const) {
      const words = ['bah', 'dee', 'go', 'pa', 'mah', 'new', 'say', 'lie'].map((x) => speak(x, voice, speed));
      const rate = words[0]!.sampleRate;
      const t = drive(concat(rate, ...words.flatMap((x) => [silence(rate, 300), x.samples])));
      const top = Math.max(...t.rms);
      // Syllables are the stretches between pauses.
      const segments: Array<[number, number]> = [];
      let start = -1;
      t.rms.forEach((v, i) => {
        const on = v > 0.03 * top;
        if (on && start < 0) start = i;
        if (!on && start >= 0) {
          if (i - start >= 3) segments.push([start, i]);
          start = -1;
        }
      });
      expect(segments.length, voice).toBe(8);
      for (const [a, b] of segments) {
        const rms = t.rms.slice(a, b);
        const jaw = t.jaw.slice(a, b + 2); // the release may spill over
        const pr = rms.indexOf(Math.max(...rms));
        const maxJaw = Math.max(...jaw);
        // On a held vowel the jaw plateaus, so "the peak" is any frame within a hair of the maximum.
        const nearPeak = Math.max(...jaw.slice(Math.max(0, pr - 1), pr + 2));
        const msg = `${voice} frames ${a}..${b}: rms ${rms.map((v) => (v / top).toFixed(2))} jaw ${jaw.map((v) => v.toFixed(2))}`;
        expect(nearPeak, msg).toBeGreaterThanOrEqual(maxJaw - 0.03);
        expect(maxJaw, msg).toBeGreaterThan(0.5);
      }
    }
  });

  it('closes the mouth at once after reset(), even right after loud speech', () => {
    const s = speak('aaah', 'en-us', 140);
    const full = drive(s);
    const cut = (full.rms.indexOf(Math.max(...full.rms)) + 1) * Math.round(s.sampleRate / FPS);
    const withReset = createVisemeEngine();
    const without = createVisemeEngine();
    drive({ sampleRate: s.sampleRate, samples: s.samples.subarray(0, cut) }, withReset);
    const before = drive({ sampleRate: s.sampleRate, samples: s.samples.subarray(0, cut) }, without);
    expect(before.jaw[before.jaw.length - 1]!).toBeGreaterThan(0.3);
    withReset.reset();
    const quiet = silence(s.sampleRate, 40);
    // Without reset the release keeps the mouth open a bit on the next silent frame; with it, closed.
    expect(without.frame(quiet, s.sampleRate).jawOpen ?? 0).toBeGreaterThan(0.05);
    const after = withReset.frame(quiet, s.sampleRate);
    expect(after.jawOpen ?? 0).toBeLessThan(0.05);
    for (const v of Object.values(after)) expect(v).toBe(0);
  });

  it('rounds the lips for "oo" and spreads them for "ee", for male and female voices', () => {
    const avg = (t: Track, ...keys: Array<keyof Blendshapes>) => mean(t.frames.map((b) => keys.reduce((s, k) => s + w(b, k), 0)));
    for (const [voice, speed] of VOICES) {
      const oo = drive(speak('who woo moo', voice, speed));
      const ee = drive(speak('see me we', voice, speed));
      const ooRound = avg(oo, 'mouthFunnel', 'mouthPucker');
      const eeRound = avg(ee, 'mouthFunnel', 'mouthPucker');
      const ooWide = avg(oo, 'mouthStretchLeft', 'mouthSmileLeft');
      const eeWide = avg(ee, 'mouthStretchLeft', 'mouthSmileLeft');
      const msg = `${voice}: oo round ${ooRound.toFixed(3)} wide ${ooWide.toFixed(3)}; ee round ${eeRound.toFixed(3)} wide ${eeWide.toFixed(3)}`;
      expect(ooRound, msg).toBeGreaterThan(eeRound * 1.5);
      expect(eeWide, msg).toBeGreaterThan(ooWide * 2);
      expect(eeWide, msg).toBeGreaterThan(0.05);
    }
  });

  it('opens the jaw wider for "ah" than for "ee" and "oo" at the same loudness', () => {
    const peakJaw = (text: string) => quantile(drive(speak(text, 'en-us', 140)).jaw, 0.9);
    expect(peakJaw('father far car')).toBeGreaterThan(peakJaw('see me we') + 0.05);
    expect(peakJaw('father far car')).toBeGreaterThan(peakJaw('who woo moo') + 0.05);
  });

  it('works the same at 16 kHz and 48 kHz', () => {
    const s = speak(SENTENCE, 'en+f3', 170);
    const ref = drive(s);
    for (const rate of [16000, 48000]) {
      const t = drive(resample(s, rate));
      expect(pearson(t.jaw, t.rms), `${rate} Hz`).toBeGreaterThan(0.6);
      expect(quantile(t.jaw, 0.9), `${rate} Hz`).toBeGreaterThan(0.75);
      const n = Math.min(t.jaw.length, ref.jaw.length);
      expect(pearson(t.jaw.slice(0, n), ref.jaw.slice(0, n)), `${rate} Hz vs 22.05 kHz`).toBeGreaterThan(0.9);
      const oo = drive(resample(speak('who woo moo', 'en-us'), rate));
      const ee = drive(resample(speak('see me we', 'en-us'), rate));
      const round = (t: Track) => mean(t.frames.map((b) => w(b, 'mouthFunnel') + w(b, 'mouthPucker')));
      const wide = (t: Track) => mean(t.frames.map((b) => w(b, 'mouthStretchLeft') + w(b, 'mouthSmileLeft')));
      expect(round(oo), `${rate} Hz`).toBeGreaterThan(round(ee));
      expect(wide(ee), `${rate} Hz`).toBeGreaterThan(wide(oo));
    }
  });

  it('treats a white-noise burst as a fricative (teeth, small jaw), not as a vowel', () => {
    const rate = 24000;
    const vowel = resample(speak('aah', 'en-us', 120), rate);
    // Noise with the vowel's RMS, between silences (deterministic LCG).
    let vowelRms = 0;
    for (const v of vowel.samples) vowelRms += v * v;
    vowelRms = Math.sqrt(vowelRms / vowel.samples.length);
    let x = 12345;
    const noise = new Int16Array(Math.round(rate * 0.5)).map(() => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return Math.round(((x / 2 ** 32) * 2 - 1) * vowelRms * Math.sqrt(3));
    });
    const noiseTrack = drive(concat(rate, silence(rate, 300), noise, silence(rate, 300)));
    const vowelTrack = drive(concat(rate, silence(rate, 300), vowel.samples, silence(rate, 300)));
    const noiseJaw = Math.max(...noiseTrack.jaw);
    const vowelJaw = Math.max(...vowelTrack.jaw);
    expect(vowelJaw).toBeGreaterThan(0.8);
    expect(noiseJaw).toBeLessThan(0.45);
    expect(noiseJaw).toBeLessThan(vowelJaw * 0.5);
    const teeth = (t: Track) => Math.max(...t.frames.map((b) => w(b, 'mouthUpperUpLeft')));
    expect(teeth(noiseTrack)).toBeGreaterThan(0.2);
    expect(teeth(noiseTrack)).toBeGreaterThan(teeth(vowelTrack) * 2);
  });

  it('presses the lips for a stop closure inside speech and relaxes them in long silence', () => {
    const s = speak('a baby', 'en-us', 140);
    const padded = concat(s.sampleRate, s.samples, silence(s.sampleRate, 1500));
    const t = drive(padded);
    const press = t.frames.map((b) => Math.max(w(b, 'mouthPressLeft'), w(b, 'mouthClose')));
    expect(Math.max(...press)).toBeGreaterThan(0.2);
    // Long after the last word the mouth is neutral again.
    const tail = t.frames.slice(-10);
    for (const b of tail) for (const v of Object.values(b)) expect(v).toBe(0);
  });
});

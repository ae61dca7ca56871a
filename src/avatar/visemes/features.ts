import { Fft } from './fft.js';

/** Loudness and spectral shape of one frame of audio. Energies are mean power per sample, full scale = 1. */
export interface AudioFeatures {
  /** RMS of the frame (DC removed), 0..1 of full scale. */
  rms: number;
  /** 20·log10(rms); -120 for digital silence. */
  db: number;
  /** Zero crossings per second (DC removed). */
  zcrHz: number;
  /** Spectral centroid (Hz) between 80 Hz and min(8 kHz, Nyquist). */
  centroidHz: number;
  /** Fractions of the 80 Hz..8 kHz spectral energy in bands; they need not sum to 1. */
  low: number; // 80..1000 Hz
  mid: number; // 1000..3000 Hz
  high: number; // 3000..8000 Hz
  /** First-formant region of open vowels (550..1100 Hz) over the 100..1100 Hz energy. */
  f1Open: number;
  /** Front-vowel second-formant region (1700..3300 Hz) over the 100..1100 Hz energy, as a ratio. */
  f2Front: number;
}

const BAND_LO = 80;
const BAND_HI = 8000;

/** FFT size for a sample rate: about 40 Hz per bin (512 at 16–24 kHz, 1024 at 44.1–48 kHz). */
export function fftSizeFor(sampleRate: number): number {
  return 2 ** Math.max(6, Math.min(13, Math.round(Math.log2(sampleRate / 40))));
}

/**
 * Reusable analyser: holds FFT tables and scratch buffers per sample rate, so per-frame analysis
 * does not allocate (beyond the returned object fields, which are reused too).
 */
export class FrameAnalyzer {
  private sampleRate = 0;
  private fft: Fft | undefined;
  private re = new Float64Array(0);
  private im = new Float64Array(0);
  private power = new Float64Array(0);
  private window = new Float64Array(0);
  private windowLen = 0;
  private windowPower = 1;
  private frame = new Float64Array(0);
  readonly out: AudioFeatures = { rms: 0, db: -120, zcrHz: 0, centroidHz: 0, low: 0, mid: 0, high: 0, f1Open: 0, f2Front: 0 };

  private setup(sampleRate: number): void {
    this.sampleRate = sampleRate;
    const size = fftSizeFor(sampleRate);
    this.fft = new Fft(size);
    this.re = new Float64Array(size);
    this.im = new Float64Array(size);
    this.power = new Float64Array((size >> 1) + 1);
    this.windowLen = 0;
  }

  private ensureWindow(len: number): void {
    if (this.windowLen === len) return;
    this.window = new Float64Array(len);
    let sum = 0;
    for (let i = 0; i < len; i++) {
      const w = len > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (len - 1)) : 1;
      this.window[i] = w;
      sum += w * w;
    }
    this.windowLen = len;
    this.windowPower = sum > 0 ? sum : 1;
  }

  analyze(pcm: Int16Array, sampleRate: number): AudioFeatures {
    if (sampleRate !== this.sampleRate || !this.fft) this.setup(sampleRate);
    const fft = this.fft!;
    const out = this.out;
    const n = pcm.length;
    if (n === 0) return this.silent();
    if (this.frame.length < n) this.frame = new Float64Array(Math.max(n, 4096));
    const x = this.frame;

    let mean = 0;
    for (let i = 0; i < n; i++) mean += pcm[i]!;
    mean /= n;
    let energy = 0;
    let crossings = 0;
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const v = (pcm[i]! - mean) / 32768;
      x[i] = v;
      energy += v * v;
      // Hysteresis of ~-80 dBFS keeps dither/idle noise from counting as "hiss".
      if ((v > 1e-4 && prev < 0) || (v < -1e-4 && prev > 0)) crossings++;
      if (v > 1e-4) prev = 1;
      else if (v < -1e-4) prev = -1;
    }
    const rms = Math.sqrt(energy / n);
    if (rms < 1e-6) return this.silent();
    out.rms = rms;
    out.db = 20 * Math.log10(rms);
    out.zcrHz = (crossings * sampleRate) / n;

    // Welch-averaged power spectrum over hann segments with 50 % overlap covering the whole frame.
    const size = fft.size;
    const seg = Math.min(size, n);
    this.ensureWindow(seg);
    const power = this.power;
    power.fill(0);
    const hop = seg >> 1 || 1;
    let segments = 0;
    for (let start = 0; ; start += hop) {
      if (start + seg > n) start = n - seg;
      const re = this.re;
      const im = this.im;
      for (let i = 0; i < seg; i++) re[i] = x[start + i]! * this.window[i]!;
      re.fill(0, seg);
      im.fill(0);
      fft.transform(re, im);
      for (let k = 0; k < power.length; k++) power[k] = power[k]! + re[k]! * re[k]! + im[k]! * im[k]!;
      segments++;
      if (start + seg >= n) break;
    }
    const norm = 1 / (segments * this.windowPower);
    const binHz = sampleRate / size;
    const nyq = sampleRate / 2;
    const top = Math.min(BAND_HI, nyq);
    let total = 0;
    let low = 0;
    let mid = 0;
    let high = 0;
    let moment = 0;
    let f1Base = 0;
    let f1Open = 0;
    let f2 = 0;
    for (let k = 1; k < power.length; k++) {
      const f = k * binHz;
      if (f < BAND_LO) continue;
      if (f > top) break;
      const p = power[k]! * norm;
      total += p;
      moment += p * f;
      if (f < 1000) low += p;
      else if (f < 3000) mid += p;
      else high += p;
      if (f >= 100 && f < 1100) {
        f1Base += p;
        if (f >= 550) f1Open += p;
      }
      if (f >= 1700 && f < 3300) f2 += p;
    }
    if (total <= 0) return this.silent(rms);
    out.centroidHz = moment / total;
    out.low = low / total;
    out.mid = mid / total;
    out.high = high / total;
    out.f1Open = f1Base > 0 ? f1Open / f1Base : 0;
    out.f2Front = f1Base > 0 ? f2 / f1Base : 0;
    return out;
  }

  private silent(rms = 0): AudioFeatures {
    const out = this.out;
    out.rms = rms;
    out.db = rms > 0 ? 20 * Math.log10(rms) : -120;
    out.zcrHz = 0;
    out.centroidHz = 0;
    out.low = 0;
    out.mid = 0;
    out.high = 0;
    out.f1Open = 0;
    out.f2Front = 0;
    return out;
  }
}

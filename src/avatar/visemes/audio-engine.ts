import type { Blendshapes } from './blendshapes.js';
import type { VisemeEngine } from './engine.js';
import { FrameAnalyzer } from './features.js';

export interface VisemeEngineOptions {
  /** Video frame rate; only used for timing when a frame arrives with no samples. Default 25. */
  fps?: number;
}

/**
 * Tunables, exported for tests and tooling. dB values are dBFS of 40 ms-ish frame RMS.
 */
export interface VisemeTuning {
  priorPeakDb: number;
  minPeakDb: number;
  peakDecayDbPerS: number;
  headroomDb: number;
  rangeDb: number;
  gateDb: number;
  floorMarginDb: number;
  floorRiseDbPerS: number;
  attackMs: number;
  releaseMs: number;
  closureMaxMs: number;
}

export const VISEME_TUNING: Readonly<VisemeTuning> = Object.freeze({
  /** Loudness reference before any speech was heard (typical TTS level). */
  priorPeakDb: -24,
  /** The running peak never sinks below this (so hiss in long quiet stretches never opens the mouth fully). */
  minPeakDb: -58,
  /** How fast the running peak decays while sound is present, dB per second. */
  peakDecayDbPerS: 5,
  /** A stressed vowel this far below the running peak still opens the jaw fully. */
  headroomDb: 2,
  /** dB below the reference where the jaw is fully closed. */
  rangeDb: 30,
  /** Absolute gate: frames quieter than this are silence, whatever the history. */
  gateDb: -66,
  /** Frames must be this far above the tracked noise floor to count as sound. */
  floorMarginDb: 8,
  /** Noise floor creeps up this fast when it is not refreshed by a quieter frame, dB per second. */
  floorRiseDbPerS: 3,
  /** Smoothing time constants, ms: the jaw opens within ~one frame, closes over ~two. */
  attackMs: 20,
  releaseMs: 55,
  /** Lips press in pauses shorter than this after speech (stop closures of b/p/m, short breaks). */
  closureMaxMs: 260,
});

const T = VISEME_TUNING;

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
/** Identity up to 0.75, then a smooth approach to 1 (strictly increasing). */
const softClip = (x: number) => (x <= 0.75 ? x : 0.75 + 0.25 * Math.tanh((x - 0.75) / 0.25));
const smoothstep = (lo: number, hi: number, x: number) => {
  const t = clamp01((x - lo) / (hi - lo));
  return t * t * (3 - 2 * t);
};

/** Output channels kept in smoothing state, in this order. */
const CH = {
  jaw: 0,
  close: 1,
  funnel: 2,
  pucker: 3,
  smile: 4,
  stretch: 5,
  upper: 6,
  lower: 7,
  press: 8,
} as const;
const N_CH = 9;

/**
 * Audio-driven viseme engine: loudness with automatic gain (running peak + noise floor) drives the
 * jaw; spectral centroid, formant-band ratios and zero-crossing rate pick rounded (o/u), spread
 * (i/e), open (a) or fricative (s/f/sh) mouths; sharp onsets and short gaps press the lips.
 * Attack is within the frame the sound starts; release takes about two frames.
 */
export function createVisemeEngine(opts: VisemeEngineOptions = {}): VisemeEngine {
  const fps = opts.fps && opts.fps > 0 ? opts.fps : 25;
  const analyzer = new FrameAnalyzer();
  const state = new Float64Array(N_CH);
  const target = new Float64Array(N_CH);

  let peakDb = T.priorPeakDb;
  let floorDb = -90;
  let prevDb = -120;
  let msSinceSound = Infinity; // time since the last active frame
  let quietMs = Infinity; // length of the current quiet stretch
  let heardSpeech = false;

  const reset = () => {
    state.fill(0);
    peakDb = T.priorPeakDb;
    floorDb = -90;
    prevDb = -120;
    msSinceSound = Infinity;
    quietMs = Infinity;
    heardSpeech = false;
  };

  const frame = (pcm: Int16Array, sampleRate: number): Blendshapes => {
    const dtMs = pcm.length > 0 && sampleRate > 0 ? (pcm.length * 1000) / sampleRate : 1000 / fps;
    const dtS = dtMs / 1000;
    const f = analyzer.analyze(pcm, sampleRate);
    const db = f.db;

    // Noise floor: follows quieter frames at once, creeps up slowly otherwise.
    if (db < floorDb) floorDb = Math.max(db, -90);
    else floorDb = Math.min(floorDb + T.floorRiseDbPerS * dtS, -30);

    const active = db > T.gateDb && db > floorDb + T.floorMarginDb;
    target.fill(0);

    if (active) {
      // Running peak (AGC): instant attack, slow decay while sound is present.
      if (db > peakDb) peakDb = db;
      else peakDb = Math.max(peakDb - T.peakDecayDbPerS * dtS, T.minPeakDb, floorDb + T.floorMarginDb + 12);
      const refDb = peakDb - T.headroomDb;
      const lowDb = Math.max(refDb - T.rangeDb, floorDb + T.floorMarginDb * 0.5);
      // Level relative to the running reference; above it the jaw saturates softly (never flat),
      // so the loudest frame of a syllable is still its widest.
      const level = Math.max(0, (db - lowDb) / Math.max(6, refDb - lowDb));
      const loud = softClip(level);

      // Fricative / noise: energy above 3 kHz and a high zero-crossing rate.
      const fric = Math.max(smoothstep(0.22, 0.6, f.high), smoothstep(3800, 8000, f.zcrHz) * 0.85);
      const voiced = 1 - fric;
      // Open vowels (a): strong first formant at 550..1100 Hz.
      const open = smoothstep(0.2, 0.85, f.f1Open);
      // Nasal murmur / voice bar (m, b, n): voiced energy almost only below ~400 Hz, lips closed.
      const murmur = smoothstep(500, 320, f.centroidHz) * voiced * (1 - open);
      // Front/back: spectral centroid of voiced sound, ~1 kHz is neutral, an octave up is bright (i/e), lower is dark (o/u).
      const oct = f.centroidHz > 0 ? Math.log2(f.centroidHz / 1000) : 0;
      const shapeGain = voiced * Math.min(1, loud * 1.6) * (1 - 0.6 * open);
      const spread = clamp01(oct / 0.45) * shapeGain;
      const round = clamp01(-oct / 0.55) * shapeGain;

      const jaw =
        Math.pow(loud, 1.25) * (1 - 0.78 * fric) * (0.72 + 0.28 * open) * (1 - 0.25 * round) * (1 - 0.7 * murmur);
      target[CH.jaw] = jaw;
      target[CH.funnel] = round * (0.35 + 0.65 * clamp01(jaw * 1.5)) * (1 - 0.5 * murmur);
      target[CH.pucker] = round * (1 - 0.6 * clamp01(jaw * 1.5));
      target[CH.stretch] = 0.75 * spread + 0.35 * fric * loud;
      target[CH.smile] = 0.45 * spread + 0.15 * fric * loud;
      // Teeth show on sibilants: lips part (upper lip up, lower lip down) around a nearly closed jaw.
      target[CH.upper] = 0.45 * fric * Math.min(1, loud * 1.4) + 0.15 * spread;
      target[CH.lower] = 0.35 * fric * Math.min(1, loud * 1.4) + 0.1 * spread;
      target[CH.close] = 0.7 * murmur;
      target[CH.press] = 0.35 * murmur;

      // Plosive release after a closure (b/p/m): a sharp onset after a quiet stretch keeps the lips
      // pressed for the onset frame while the jaw starts to move.
      const rise = db - Math.max(prevDb, floorDb);
      if (quietMs >= 2 * dtMs - 1 && quietMs < 1500 && rise > 14) {
        const k = smoothstep(14, 30, rise) * voiced;
        target[CH.close] = Math.max(target[CH.close]!, 0.55 * k);
        target[CH.press] = Math.max(target[CH.press]!, 0.45 * k);
      }
      heardSpeech = true;
      msSinceSound = 0;
      quietMs = 0;
    } else {
      msSinceSound += dtMs;
      quietMs = quietMs === Infinity ? Infinity : quietMs + dtMs;
      // Lips press in short gaps inside speech (stop closures), relax back to neutral in longer silence.
      if (heardSpeech && msSinceSound <= T.closureMaxMs) {
        const k = 1 - msSinceSound / (T.closureMaxMs + dtMs);
        target[CH.press] = 0.6 * k;
        target[CH.close] = 0.3 * k;
      }
    }
    prevDb = db;

    // Smoothing: fast attack, slower release (per-frame coefficients from time constants).
    const a = 1 - Math.exp(-dtMs / T.attackMs);
    const r = 1 - Math.exp(-dtMs / T.releaseMs);
    for (let i = 0; i < N_CH; i++) {
      const cur = state[i]!;
      const t = target[i]!;
      let next = cur + (t - cur) * (t > cur ? a : r);
      if (next < 1e-3) next = 0;
      state[i] = clamp01(next);
    }
    // In silence the jaw release is quicker (no half-open mouth hanging after the last word).
    if (!active && state[CH.jaw]! < 0.03) state[CH.jaw] = 0;

    const s = state;
    return {
      jawOpen: s[CH.jaw]!,
      mouthClose: s[CH.close]!,
      mouthFunnel: s[CH.funnel]!,
      mouthPucker: s[CH.pucker]!,
      mouthSmileLeft: s[CH.smile]!,
      mouthSmileRight: s[CH.smile]!,
      mouthStretchLeft: s[CH.stretch]!,
      mouthStretchRight: s[CH.stretch]!,
      mouthUpperUpLeft: s[CH.upper]!,
      mouthUpperUpRight: s[CH.upper]!,
      mouthLowerDownLeft: s[CH.lower]!,
      mouthLowerDownRight: s[CH.lower]!,
      mouthPressLeft: s[CH.press]!,
      mouthPressRight: s[CH.press]!,
    };
  };

  return { frame, reset };
}

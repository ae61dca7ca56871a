/**
 * Turning what a viewer received into numbers: onsets, the mouth's movement against its rest, and
 * the lag between the voice and the mouth.
 */
import type { ReceivedAudioFrame, ReceivedVideoFrame } from './viewer.js';
import { pearson } from '../support/avatar-measures.js';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function stddev(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
}


export function between<T extends { at: number }>(frames: readonly T[], from: number, to: number): T[] {
  return frames.filter((f) => f.at >= from && f.at < to);
}

/** Where the voice is: the first and last 10 ms frame louder than `threshold` after `from`. */
export function voiceSpan(audio: readonly ReceivedAudioFrame[], from: number, to = Infinity, threshold = 1_000): { start: number; end: number; loudFrames: number } | undefined {
  const loud = audio.filter((f) => f.at >= from && f.at < to && f.rms > threshold);
  if (loud.length === 0) return undefined;
  return { start: loud[0]!.at, end: loud.at(-1)!.at, loudFrames: loud.length };
}

/**
 * A voice that began after `from` and has finished at the listener: its span once at least
 * `quietMs` of received audio (counted in 10 ms frames, so a stalled reader does not fake it) has
 * followed its last loud frame (and, if given, arrived after `quietAfter`: when the speaker is known
 * to have stopped, audio still on its way arrives after that). Undefined while none has begun, or
 * while it may still be going (`quietMs` must be longer than the pauses inside it).
 */
export function finishedVoice(
  audio: readonly ReceivedAudioFrame[],
  from: number,
  { quietMs = 700, threshold = 1_000, quietAfter = -Infinity }: { quietMs?: number; threshold?: number; quietAfter?: number } = {},
): { start: number; end: number; loudFrames: number } | undefined {
  const span = voiceSpan(audio, from, Infinity, threshold);
  if (!span) return undefined;
  let quiet = 0;
  for (let i = audio.length - 1; i >= 0 && audio[i]!.at > span.end && audio[i]!.at > quietAfter; i--) quiet++;
  return quiet * 10 >= quietMs ? span : undefined;
}

/**
 * Where a signal turns on: the arrival time of each frame at or after `from` for which `on` holds
 * while it did not for the frame before, in order.
 */
export function onsets<T extends { at: number }>(frames: readonly T[], from: number, on: (frame: T) => boolean): number[] {
  const found: number[] = [];
  let was = false;
  for (const frame of frames) {
    const is = on(frame);
    if (is && !was && frame.at >= from) found.push(frame.at);
    was = is;
  }
  return found;
}

/**
 * The mouth's movement: how far each frame's mouth grid is from its rest, the per-cell median over
 * `rest` frames (the avatar listening, mouth closed), as the mean absolute difference in luma levels.
 */
export function mouthMotion(frames: readonly ReceivedVideoFrame[], rest: readonly ReceivedVideoFrame[]): { at: number; move: number }[] {
  const cells = rest[0]?.mouth.length ?? 0;
  const restGrid = Array.from({ length: cells }, (_, i) => median(rest.map((f) => f.mouth[i]!)));
  return frames.map((f) => {
    let sum = 0;
    for (let i = 0; i < cells; i++) sum += Math.abs(f.mouth[i]! - restGrid[i]!);
    return { at: f.at, move: cells ? sum / cells : 0 };
  });
}

/**
 * The lag (ms, positive when the mouth moves after the voice) at which the mouth's movement best
 * follows the voice's loudness, both sampled every `stepMs` over `from`..`to` (the latest frame
 * at or before each sample, as a screen and a speaker would hold them), and the correlation there.
 * Lags are searched within `maxLagMs` of `centerMs`.
 */
export function bestLag(
  audio: readonly ReceivedAudioFrame[],
  motion: readonly { at: number; move: number }[],
  from: number,
  to: number,
  maxLagMs = 500,
  stepMs = 10,
  centerMs = 0,
): { lagMs: number; r: number } {
  const sample = <T extends { at: number }>(series: readonly T[], value: (x: T) => number, t: number): number => {
    // Series are in arrival order; binary search for the last at <= t.
    let lo = 0;
    let hi = series.length - 1;
    if (hi < 0 || series[0]!.at > t) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (series[mid]!.at <= t) lo = mid;
      else hi = mid - 1;
    }
    return value(series[lo]!);
  };
  // Loudness smoothed over 40 ms (one video frame), so both signals have the same time resolution.
  const loudness = (t: number) => {
    let sum = 0;
    for (let k = 0; k < 4; k++) sum += sample(audio, (f) => f.rms, t - k * 10);
    return sum / 4;
  };
  const times: number[] = [];
  for (let t = from; t <= to; t += stepMs) times.push(t);
  const voice = times.map(loudness);
  let best = { lagMs: 0, r: -Infinity };
  for (let lag = centerMs - maxLagMs; lag <= centerMs + maxLagMs; lag += stepMs) {
    const mouth = times.map((t) => sample(motion, (m) => m.move, t + lag));
    const r = pearson(voice, mouth);
    if (r > best.r) best = { lagMs: lag, r };
  }
  return best;
}


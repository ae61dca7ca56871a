/**
 * Deterministic "life" for the built-in face: blinks, gaze shifts, idle head motion and breathing,
 * all pure functions of (seed, timeMs) so a frame can be re-rendered exactly.
 */

/** Hash (seed, stream, index) to a uniform number in [0, 1). */
export function rand(seed: number, stream: number, index: number): number {
  let h = (seed | 0) ^ Math.imul(stream + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Event times t0 < t1 < ... generated from (seed, stream) with gaps in [minGap, maxGap) ms,
 * cached so lookups for increasing (or random) times are cheap.
 */
export class EventSchedule {
  private readonly times: number[] = [];
  constructor(
    private readonly seed: number,
    private readonly stream: number,
    private readonly firstMax: number,
    private readonly minGap: number,
    private readonly maxGap: number,
  ) {
    this.times.push(300 + rand(seed, stream, 0) * firstMax);
  }

  /** Index of the last event at or before t (-1 if none), extending the schedule as needed. */
  indexAt(t: number): number {
    const times = this.times;
    while (times[times.length - 1]! <= t) {
      const k = times.length;
      times.push(times[k - 1]! + this.minGap + rand(this.seed, this.stream, k) * (this.maxGap - this.minGap));
    }
    let lo = 0;
    let hi = times.length - 1;
    if (times[0]! > t) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  time(index: number): number {
    return this.times[index]!;
  }
}

export const BLINK_MS = 150;

/** Eyelid closure 0 (open) .. 1 (closed) for a blink starting at 0: close 55 ms, hold 35 ms, open 60 ms. */
export function blinkClosure(sinceStart: number): number {
  if (sinceStart < 0 || sinceStart >= BLINK_MS) return 0;
  if (sinceStart < 55) return (sinceStart + 20) / 75;
  if (sinceStart < 90) return 1;
  return 1 - (sinceStart - 90) / 60;
}

/** Smooth 1-D value noise: sum of a few sines with seed-dependent phases and frequencies. */
export function wobble(seed: number, stream: number, tMs: number, periodMs: number): number {
  let v = 0;
  let norm = 0;
  for (let k = 0; k < 3; k++) {
    const f = (1 + k * 0.77 + rand(seed, stream, 10 + k) * 0.35) / periodMs;
    const ph = rand(seed, stream, 20 + k) * Math.PI * 2;
    const amp = 1 / (1 + k);
    v += amp * Math.sin(2 * Math.PI * f * tMs + ph);
    norm += amp;
  }
  return v / norm;
}

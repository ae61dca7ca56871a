import { describe, expect, it } from 'vitest';
import { simulatePolicy, type Silence } from '../../bench/turns/eot-probe.js';

const delays = { minDelayMs: 500, maxDelayMs: 2000 };
/** A silence whose model answers are `ps`, asked at 200, 300, … ms. */
const silence = (lengthMs: number, ps: number[]): Silence => ({ lengthMs, answers: ps.map((p, i) => [200 + i * 100, p]) });

describe('bench:turns end-of-turn policy simulation', () => {
  it('asked once, an "unlikely" first answer makes a turn end wait the max delay even if later answers are sure', () => {
    const end = silence(Infinity, [0.2, 0.9, 0.9, 0.9]);
    expect(simulatePolicy([end], delays, false)).toEqual({ endWaitP50Ms: 2000, endsBeforeMax: 0, pausesCut: 0 });
    // Asked again every 100 ms, the second answer ends the turn, but not before the min delay.
    expect(simulatePolicy([end], delays, true)).toEqual({ endWaitP50Ms: 500, endsBeforeMax: 1, pausesCut: 0 });
    expect(simulatePolicy([silence(Infinity, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9])], delays, true).endWaitP50Ms).toBe(800);
  });

  it('a pause is cut only when the commit comes before the user speaks again', () => {
    // "likely" at 200 ms, but the user goes on at 450 ms: the min delay (500) saves them.
    expect(simulatePolicy([silence(450, [0.9, 0.9])], delays, true).pausesCut).toBe(0);
    // A 1.2 s pause the model calls complete at 900 ms: cut when asked repeatedly, not when asked once.
    const pause = silence(1200, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.1, 0.1]);
    expect(simulatePolicy([pause], delays, true).pausesCut).toBe(1);
    expect(simulatePolicy([pause], delays, false).pausesCut).toBe(0);
  });

  it('the threshold decides what counts as likely', () => {
    const end = silence(Infinity, [0.4]);
    expect(simulatePolicy([end], delays, false, 0.36).endsBeforeMax).toBe(1);
    expect(simulatePolicy([end], delays, false, 0.45).endsBeforeMax).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { LOUD, longestQuiet } from '../../bench/turns/caller.js';

/** 10 ms frames from t = 0: `true` for the agent's voice, `false` for quiet. */
const frames = (pattern: string) => [...pattern].map((c, i) => ({ at: i * 10, rms: c === '#' ? LOUD * 4 : 0 }));

describe("bench:turns: what a cough over the reply did to the agent's voice", () => {
  it('is the longest quiet stretch in the window, with the voice coming back after it', () => {
    // voice, a 30 ms pause, voice, a 60 ms pause (the avatar pausing at the cough), voice
    expect(longestQuiet(frames('####___###______####'), 0, 190)).toEqual({ ms: 60, voiceAfter: true });
  });

  it('runs a stretch still quiet at the end of the window to it: a reply that never came back', () => {
    expect(longestQuiet(frames('####______________'), 0, 300)).toEqual({ ms: 260, voiceAfter: false });
  });

  it('looks only inside the window', () => {
    expect(longestQuiet(frames('__________####_##'), 100, 160)).toEqual({ ms: 10, voiceAfter: true });
  });
});

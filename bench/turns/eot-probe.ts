/**
 * How the end-of-turn model sees this corpus, before any room is involved: LiveKit's local audio
 * model (turn-detector v1-mini, the one both configs run) asked, as agents asks it, once the user
 * has been silent 200 ms, at every pause inside a turn and at every turn's end. agents then waits
 * ENDPOINTING min delay when p ≥ the language's "unlikely" threshold, else the max delay. A model
 * that says "likely" at true ends and "unlikely" at pauses makes both fast replies and no cut-ins
 * possible; one that cannot tell them apart on these voices leaves only the trade-off.
 */
import { createRequire } from 'node:module';
import { resampleMono } from '../../src/audio/resample.js';
import type { CorpusTurn } from './corpus.js';

/** agents 1.9 `inference/eot/languages.ts`: v1-mini's English "unlikely" threshold. */
export const V1_MINI_UNLIKELY_EN = 0.36;
/** agents asks once the raw silence reaches this (`inference/eot/base.ts` MIN_SILENCE_DURATION_MS). */
const ASK_AFTER_SILENCE_MS = 200;
/** The model reads the last 1.2 s of 16 kHz audio. */
const WINDOW = 19_200;

export interface EotProbe {
  /** Turn ends the model called complete (→ min delay): higher is faster. */
  endsLikely: number;
  ends: number;
  /** Pauses inside turns the model called incomplete (→ max delay): higher is fewer cut-ins. */
  pausesUnlikely: number;
  pauses: number;
  /**
   * The same judgements at other "unlikely" thresholds (agents' `unlikelyThreshold` option): how
   * many ends would be answered at the min delay, and how many pauses would be committed (each a
   * possible cut-in). Where no threshold gives many of the first and few of the second, the model
   * cannot tell this corpus's ends from its pauses.
   */
  sweep: { threshold: number; endsLikely: number; pausesLikely: number }[];
  /**
   * agents 1.9 asks once per silence; LiveKit's eot-bench scores the model asked every 100 ms
   * while the silence lasts (its default inference interval). Simulated on this corpus with the
   * shipped threshold and the given delays: a turn ends at the first "likely" answer (not before the
   * min delay) or at the max delay; a pause is cut when that happens before the speech resumes.
   */
  askedOnce: PolicyOutcome;
  askedEvery100Ms: PolicyOutcome;
}

export interface PolicyOutcome {
  /** Median wait from the last word to the commit, over turn ends (ms). */
  endWaitP50Ms: number;
  /** Turn ends committed before the max delay. */
  endsBeforeMax: number;
  /** Pauses inside turns committed before the speech went on: each a cut-in. */
  pausesCut: number;
}

export interface EndpointingDelays {
  minDelayMs: number;
  maxDelayMs: number;
}

const SWEEP = [0.15, 0.2, 0.25, 0.3, V1_MINI_UNLIKELY_EN, 0.45];

type Predict = (pcm: Int16Array) => Promise<number>;

/** The native model as agents itself loads it (its own dependency), or undefined where it cannot load. */
function loadModel(): Predict | undefined {
  try {
    const fromAgents = createRequire(createRequire(import.meta.url).resolve('@livekit/agents'));
    return (fromAgents('@livekit/local-inference') as { predict: Predict }).predict;
  } catch {
    return undefined;
  }
}

/** One silence: the model's answers at ASK_AFTER_SILENCE_MS, +100 ms, … while it lasts. */
export interface Silence {
  /** ms from the last word to the next one (Infinity at a turn's end). */
  lengthMs: number;
  /** [ms into the silence, probability]. */
  answers: [number, number][];
}

const RESCAN_STEP_MS = 100;

export async function probeEndOfTurn(turns: readonly CorpusTurn[], delays: EndpointingDelays = { minDelayMs: 500, maxDelayMs: 2000 }): Promise<EotProbe | undefined> {
  const predict = loadModel();
  if (!predict) return undefined;
  const silences: Silence[] = [];
  for (const turn of turns) {
    const pcm = resampleMono(turn.samples, turn.sampleRate, 16_000);
    for (const [i, span] of turn.speech.entries()) {
      const next = turn.speech[i + 1];
      const lengthMs = next ? next.startMs - span.endMs : Infinity;
      const answers: [number, number][] = [];
      // Past the max delay the answer no longer matters. Past the WAV's end the user's microphone
      // goes on sending silence, as it does in the room.
      for (let at = ASK_AFTER_SILENCE_MS; at < Math.min(lengthMs, delays.maxDelayMs); at += RESCAN_STEP_MS) {
        const end = Math.round(((span.endMs + at) / 1000) * 16_000);
        answers.push([at, await predict(lastWindow(pcm, end))]);
      }
      if (answers.length) silences.push({ lengthMs, answers });
    }
  }
  const ends = silences.filter((s) => s.lengthMs === Infinity).map((s) => s.answers[0]![1]);
  const pauses = silences.filter((s) => s.lengthMs !== Infinity).map((s) => s.answers[0]![1]);
  const atLeast = (ps: number[], threshold: number) => ps.filter((p) => p >= threshold).length;
  return {
    endsLikely: atLeast(ends, V1_MINI_UNLIKELY_EN),
    ends: ends.length,
    pausesUnlikely: pauses.length - atLeast(pauses, V1_MINI_UNLIKELY_EN),
    pauses: pauses.length,
    sweep: SWEEP.map((threshold) => ({ threshold, endsLikely: atLeast(ends, threshold), pausesLikely: atLeast(pauses, threshold) })),
    askedOnce: simulatePolicy(silences, delays, false),
    askedEvery100Ms: simulatePolicy(silences, delays, true),
  };
}

/** The model's input: the 1.2 s of audio before `end`, silence where it runs past the recording. */
function lastWindow(pcm: Int16Array, end: number): Int16Array {
  if (end <= pcm.length) return pcm.slice(Math.max(0, end - WINDOW), end);
  const window = new Int16Array(Math.min(WINDOW, end));
  const heard = pcm.subarray(Math.max(0, end - WINDOW), pcm.length);
  window.set(heard, 0);
  return window;
}

/** When agents would commit each silence under the two-level rule, asking once or repeatedly. */
export function simulatePolicy(silences: readonly Silence[], delays: EndpointingDelays, rescan: boolean, threshold = V1_MINI_UNLIKELY_EN): PolicyOutcome {
  const commitAt = (s: Silence): number => {
    const asked = rescan ? s.answers : s.answers.slice(0, 1);
    const likely = asked.find(([, p]) => p >= threshold);
    return likely ? Math.max(delays.minDelayMs, likely[0]) : delays.maxDelayMs;
  };
  const endWaits = silences.filter((s) => s.lengthMs === Infinity).map(commitAt);
  const sorted = [...endWaits].sort((a, b) => a - b);
  return {
    endWaitP50Ms: sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : 0,
    endsBeforeMax: endWaits.filter((w) => w < delays.maxDelayMs).length,
    pausesCut: silences.filter((s) => s.lengthMs !== Infinity && commitAt(s) < s.lengthMs).length,
  };
}

/** One line: the two ways of asking, compared on this corpus. */
export function describePolicies(probe: EotProbe): string {
  const line = (name: string, o: PolicyOutcome) => `${name}: turn ends wait ${o.endWaitP50Ms} ms (median), ${o.endsBeforeMax}/${probe.ends} before the max delay, ${o.pausesCut}/${probe.pauses} pauses cut`;
  return `${line('asked once at 200 ms (agents 1.9)', probe.askedOnce)}; ${line('asked every 100 ms (eot-bench)', probe.askedEvery100Ms)}`;
}

/** One line for the bench's progress: threshold → ends answered fast / pauses committed. */
export function describeSweep(probe: EotProbe): string {
  return probe.sweep.map((s) => `${s.threshold}: ${s.endsLikely}/${probe.ends} ends fast, ${s.pausesLikely}/${probe.pauses} pauses committed`).join('; ');
}

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

export async function probeEndOfTurn(turns: readonly CorpusTurn[]): Promise<EotProbe | undefined> {
  const predict = loadModel();
  if (!predict) return undefined;
  const ends: number[] = [];
  const pauses: number[] = [];
  for (const turn of turns) {
    const pcm = resampleMono(turn.samples, turn.sampleRate, 16_000);
    for (const [i, span] of turn.speech.entries()) {
      const end = Math.round(((span.endMs + ASK_AFTER_SILENCE_MS) / 1000) * 16_000);
      const p = await predict(pcm.slice(Math.max(0, end - WINDOW), Math.min(end, pcm.length)));
      (i === turn.speech.length - 1 ? ends : pauses).push(p);
    }
  }
  const atLeast = (ps: number[], threshold: number) => ps.filter((p) => p >= threshold).length;
  return {
    endsLikely: atLeast(ends, V1_MINI_UNLIKELY_EN),
    ends: ends.length,
    pausesUnlikely: pauses.length - atLeast(pauses, V1_MINI_UNLIKELY_EN),
    pauses: pauses.length,
    sweep: SWEEP.map((threshold) => ({ threshold, endsLikely: atLeast(ends, threshold), pausesLikely: atLeast(pauses, threshold) })),
  };
}

/** One line for the bench's progress: threshold → ends answered fast / pauses committed. */
export function describeSweep(probe: EotProbe): string {
  return probe.sweep.map((s) => `${s.threshold}: ${s.endsLikely}/${probe.ends} ends fast, ${s.pausesLikely}/${probe.pauses} pauses committed`).join('; ');
}

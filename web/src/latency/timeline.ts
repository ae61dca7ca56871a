import { stageDeltas, STAGES, type StageName } from '../../../src/metrics/latency-budget';
import type { LatencyMessage } from './latency-feed';

export interface TimelineSegment {
  stage: StageName;
  /** Where the stage starts and how long it lasts, in ms after the end of speech. */
  startMs: number;
  ms: number;
  /** e.g. "transcript → first LLM token". */
  span: string;
}

export interface TurnTimeline {
  segments: TimelineSegment[];
  /** The width of the drawing in ms: the budget, or the turn when it ran over. */
  scaleMs: number;
}

/**
 * A turn as consecutive segments on one axis, end of speech at 0, from the worker's own stage
 * arithmetic (src/metrics/latency-budget.ts), so the page and the log line agree. A stage whose
 * mark was not reported is folded into the next, as there.
 */
export function turnTimeline(message: LatencyMessage): TurnTimeline {
  const deltas = stageDeltas({ endOfSpeechAt: message.endOfSpeechAt, ...message.marks });
  let at = 0;
  const segments = deltas.map((d) => {
    const segment = { stage: d.stage, startMs: at, ms: d.ms, span: `${d.from} → ${d.to}` };
    at += d.ms;
    return segment;
  });
  return { segments, scaleMs: Math.max(message.budgetMs, message.totalMs, 1) };
}

/** The mark names in the order of the stages, for the legend. */
export const STAGE_LABELS: Record<StageName, string> = Object.fromEntries(STAGES.map((s) => [s.stage, s.label])) as Record<StageName, string>;

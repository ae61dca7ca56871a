import type { TurnTimings } from './turn-timeline.js';

/**
 * A turn's stages as links of one chain. Each stage is named for the mark that ends it and lasts
 * from the previous mark that was seen (end of speech for the first):
 *
 *   end of speech ─stt─► transcript ─eot─► end of turn ─llm─► first LLM token ─tts─► first TTS audio ─avatar─► first frame
 *
 * When a mark is missing (a provider that reports no transcript event, say) the next stage spans
 * both links, and `from` says so.
 */
export const STAGES = [
  { stage: 'stt', mark: 'transcriptMs', label: 'transcript' },
  // Waiting for the end-of-turn decision. With preemptive generation the LLM and TTS run during
  // it; their marks then fall inside this stage and their own stages are 0: the user waited for
  // the turn detector, not for them.
  { stage: 'eot', mark: 'endOfTurnMs', label: 'end of turn' },
  { stage: 'llm', mark: 'llmFirstTokenMs', label: 'first LLM token' },
  { stage: 'tts', mark: 'ttsFirstAudioMs', label: 'first TTS audio' },
  { stage: 'avatar', mark: 'firstAvatarFrameMs', label: 'first avatar frame' },
] as const;

export type StageName = (typeof STAGES)[number]['stage'];
export const STAGE_NAMES: readonly StageName[] = STAGES.map((s) => s.stage);

export interface StageDelta {
  stage: StageName;
  /** What the stage starts from: the previous mark seen ('end of speech' for the first). */
  from: string;
  /** What ends it. */
  to: string;
  /** Milliseconds between the two marks; never negative (clock skew between events is clamped). */
  ms: number;
}

/** The stages of one turn that have an end mark, each as the time since the previous mark. */
export function stageDeltas(turn: TurnTimings): StageDelta[] {
  const out: StageDelta[] = [];
  let prevMs = 0;
  let prevLabel = 'end of speech';
  for (const s of STAGES) {
    const at = turn[s.mark];
    if (at === undefined) continue;
    out.push({ stage: s.stage, from: prevLabel, to: s.label, ms: Math.max(0, at - prevMs) });
    // A mark earlier than the previous one (events reported out of order) does not move the clock back.
    prevMs = Math.max(prevMs, at);
    prevLabel = s.label;
  }
  return out;
}

export interface BudgetVerdict {
  budgetMs: number;
  /** End of speech → first avatar frame. */
  totalMs: number;
  over: boolean;
  stages: StageDelta[];
  /** The stage with the largest delta; the first of equals. */
  slowest: StageDelta | undefined;
}

export function checkBudget(turn: TurnTimings, budgetMs: number): BudgetVerdict {
  const stages = stageDeltas(turn);
  let slowest: StageDelta | undefined;
  for (const s of stages) if (!slowest || s.ms > slowest.ms) slowest = s;
  const totalMs = turn.firstAvatarFrameMs;
  return { budgetMs, totalMs, over: totalMs > budgetMs, stages, slowest };
}

/** One line for the log, e.g. `turn over budget: 1480 ms > 1000 ms; slowest stage: llm 910 ms (transcript → first LLM token)`. */
export function formatBudgetWarning(v: BudgetVerdict): string {
  const slowest = v.slowest ? `; slowest stage: ${v.slowest.stage} ${v.slowest.ms} ms (${v.slowest.from} → ${v.slowest.to})` : '';
  return `turn over budget: ${v.totalMs} ms > ${v.budgetMs} ms${slowest}`;
}

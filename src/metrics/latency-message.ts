import { z } from 'zod';
import { checkBudget, type StageName } from './latency-budget.js';
import type { TurnTimings } from './turn-timeline.js';

/**
 * The message the agent publishes into the room after each turn, so a front end can show the
 * latency of the reply it just saw. Topic `avatar.latency` (ours; LiveKit reserves `lk.`),
 * reliable data packet, UTF-8 JSON. Documented in docs/latency.md; receivers should ignore fields
 * they do not know, and check `v`.
 */
export const LATENCY_TOPIC = 'avatar.latency';

const ms = z.number().int().min(0);
/** A mark relative to the end of speech; negative only if an event was stamped before it (skew). */
const mark = z.number().int();

export const latencyMessageSchema = z.object({
  type: z.literal('turn_latency'),
  v: z.literal(1),
  /** 1 for the first answered turn of this job (conversation), then 2, 3, ... */
  turn: z.number().int().min(1),
  /** Wall clock (Unix ms) when the user stopped speaking: the start of the turn's clock. */
  endOfSpeechAt: z.number().int().min(0),
  /** Each stage's end, in ms after the end of speech. A stage whose event was not seen is absent. */
  marks: z.object({
    transcriptMs: mark.optional(),
    endOfTurnMs: mark.optional(),
    llmFirstTokenMs: mark.optional(),
    ttsFirstAudioMs: mark.optional(),
    firstAvatarFrameMs: mark,
  }),
  /** End of speech → first avatar frame: what the user waited. */
  totalMs: mark,
  budgetMs: ms,
  overBudget: z.boolean(),
  /** The stage that took longest (its time since the previous mark); absent with no stages. */
  slowest: z.object({ stage: z.enum(['stt', 'eot', 'llm', 'tts', 'avatar'] as const satisfies readonly StageName[]), ms }).optional(),
});

export type LatencyMessage = z.infer<typeof latencyMessageSchema>;

export function toLatencyMessage(turn: TurnTimings, seq: number, budgetMs: number): LatencyMessage {
  const verdict = checkBudget(turn, budgetMs);
  const marks: LatencyMessage['marks'] = { firstAvatarFrameMs: Math.round(turn.firstAvatarFrameMs) };
  if (turn.transcriptMs !== undefined) marks.transcriptMs = Math.round(turn.transcriptMs);
  if (turn.endOfTurnMs !== undefined) marks.endOfTurnMs = Math.round(turn.endOfTurnMs);
  if (turn.llmFirstTokenMs !== undefined) marks.llmFirstTokenMs = Math.round(turn.llmFirstTokenMs);
  if (turn.ttsFirstAudioMs !== undefined) marks.ttsFirstAudioMs = Math.round(turn.ttsFirstAudioMs);
  return {
    type: 'turn_latency',
    v: 1,
    turn: seq,
    endOfSpeechAt: Math.round(turn.endOfSpeechAt),
    marks,
    totalMs: Math.round(verdict.totalMs),
    budgetMs,
    overBudget: verdict.over,
    ...(verdict.slowest ? { slowest: { stage: verdict.slowest.stage, ms: Math.round(verdict.slowest.ms) } } : {}),
  };
}

export function encodeLatencyMessage(msg: LatencyMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(latencyMessageSchema.parse(msg)));
}

/** Parse a received packet; throws a ZodError (or SyntaxError) when it is not a latency message. */
export function decodeLatencyMessage(data: Uint8Array): LatencyMessage {
  return latencyMessageSchema.parse(JSON.parse(new TextDecoder().decode(data)));
}

import type { TurnTimings } from './turn-timeline.js';

/** One log line per turn: the stages against the budget, readable at a glance. */
export function formatTurnLine(t: TurnTimings, budgetMs = 1000): string {
  const part = (label: string, v: number | undefined) => (v === undefined ? `${label} n/a` : `${label} ${v} ms`);
  const verdict = t.firstAvatarFrameMs <= budgetMs ? 'within' : 'OVER';
  return `turn: ${[part('transcript', t.transcriptMs), part('llm', t.llmFirstTokenMs), part('tts', t.ttsFirstAudioMs), part('avatar', t.firstAvatarFrameMs)].join(' → ')} (${verdict} ${budgetMs} ms budget)`;
}

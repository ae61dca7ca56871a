/**
 * What the turn-taking bench reports: per config, end to end at the ear (raw and less the test
 * server's transport), the turn overhead (less the providers' chain as well), false cut-ins,
 * missed turns, barge-in and the worker's own share; a side-by-side table with the ratio
 * ours/stock, the JSON of issue 12, and a CDF plot of end to end at the ear.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type { ConfigName, FakesTrace } from './rig.js';
import type { TurnResult } from './play.js';
import type { ProfileName } from './profiles.js';
import type { TransportMs } from './transport.js';
import { describePolicies, type EotProbe } from './eot-probe.js';
import { percentile } from '../../test/e2e/signals.js';

export interface Pcts {
  p50: number;
  p95: number;
  p99?: number;
}

export interface ConfigSummary {
  e2eAtEarMs: Pcts;
  e2eLessTransportMs: Pcts;
  turnOverheadMs: Pcts;
  falseCutIns: number;
  missedTurns: number;
  turns: number;
  bargeInStopMs: Pcts;
  bargeInStopLessTransportMs: Pcts;
  bargeIns: number;
  /** A short sound with no words over the reply: the longest stretch without the agent's voice after it. */
  coughGapMs: Pcts;
  coughs: number;
  /** Coughs after which the agent's voice did not come back (the reply was dropped). */
  coughRepliesLost: number;
  workerAddedMs: Pcts;
  /** Worker-added less the fakes' own lateness (`fakesLateMs`). */
  workerAddedLessFakesMs: Pcts;
  /** How late the fake LLM's first clause and the fake TTS's first byte were, beyond what the profile drew. */
  fakesLateMs: Pcts;
  /** Medians of the worker's own stage marks (ms after its end of speech). */
  stagesMs: Record<string, number>;
  /** Worker-added split by link, from the worker's marks set against the fakes' (see LINKS). */
  linksMs: Partial<Record<LinkName, Pcts>>;
  /** Replies whose LLM or TTS request opened a connection (paying the handshake the profile's `connectMs` stands for), of the replies traced. */
  newConnections: { llm: number; tts: number; of: number };
}

/**
 * The links of a reply between what the worker marked (`avatar.latency`, wall clock from its end
 * of speech) and what the fakes recorded (rig.ts FakesTrace): each is time the worker, not a
 * provider, spent. What the fakes themselves take (their drawn latency, and any lateness) falls
 * between the links, so it is in none of them.
 */
type LinkFn = (trace: FakesTrace, stages: NonNullable<TurnResult['stages']>, endOfSpeechAt: number) => number | undefined;
export const LINKS = {
  'final transcript → LLM request arrives': (t, s, eos) => (s.transcriptMs === undefined ? undefined : t.chatAt - (eos + s.transcriptMs)),
  'LLM first token sent → worker has it': (t, s, eos) => (s.llmFirstTokenMs === undefined ? undefined : eos + s.llmFirstTokenMs - t.firstTokenAt),
  'first clause sent → TTS request arrives': (t) => t.speechAt - t.clauseAt,
  'TTS first byte sent → worker has audio': (t, s, eos) => (s.ttsFirstAudioMs === undefined ? undefined : eos + s.ttsFirstAudioMs - t.firstByteAt),
  'audio or commit → first avatar frame': (_t, s) => (s.ttsFirstAudioMs === undefined || s.endOfTurnMs === undefined ? undefined : s.firstAvatarFrameMs - Math.max(s.ttsFirstAudioMs, s.endOfTurnMs)),
} satisfies Record<string, LinkFn>;
export type LinkName = keyof typeof LINKS;

export function linkValues(results: readonly TurnResult[], name: LinkName): number[] {
  return results.flatMap((r) => {
    if (!r.fakes || !r.stages || r.endOfSpeechAt === undefined) return [];
    const v = (LINKS[name] as LinkFn)(r.fakes, r.stages, r.endOfSpeechAt);
    return v === undefined ? [] : [v];
  });
}

export interface BenchReport {
  profile: ProfileName;
  corpus: string;
  configs: Partial<Record<ConfigName, ConfigSummary>>;
  transportMs: { userToAgent: number; agentToUser: number };
  /** How the end-of-turn model judges this corpus's ends and pauses (eot-probe.ts). */
  eotModel?: EotProbe;
  /** Worker variables set for ours on top of TURN_PRESET=tuned (--set). */
  oursSettings?: Record<string, string>;
  machine: string;
  /**
   * The bench process's own event-loop delay over the run (it hosts the test server, the fakes and
   * the callers): the fakes stamp a request when this loop reads it, so the links above carry up to
   * this much of the bench's own lag.
   */
  benchEventLoopMs?: { p50: number; p99: number; max: number };
  turns: Partial<Record<ConfigName, TurnResult[]>>;
}

const pcts = (v: readonly number[], withP99 = false): Pcts => ({ p50: percentile(v, 50), p95: percentile(v, 95), ...(withP99 ? { p99: percentile(v, 99) } : {}) });

/**
 * The time the LLM's own pacing holds back the first clause: the fake streams one word a token,
 * so the first clause is complete `words − 1` token gaps after the first token.
 */
export function firstClausePacingMs(reply: string, tokenMs: number): number {
  return firstClauseGaps(reply) * tokenMs;
}

/** Token gaps between the first token and the end of the first clause (one word a token). */
export function firstClauseGaps(reply: string): number {
  const words = reply.split(/\s+/).filter(Boolean);
  const k = words.findIndex((w) => /[,.;:!?]$/.test(w));
  return (k === -1 ? words.length : k + 1) - 1;
}

export function summarize(results: readonly TurnResult[], transport: TransportMs, pacingMs: (r: TurnResult) => number): ConfigSummary {
  const transportTotal = transport.userToAgent + transport.agentToUser;
  const answered = results.filter((r) => r.e2eMs !== undefined);
  const e2e = answered.map((r) => r.e2eMs!);
  const chain = (r: TurnResult) => r.draw.sttFinalMs + r.draw.llmTtftMs + r.draw.ttsTtfbMs;
  const barge = results.flatMap((r) => (r.bargeInStopMs !== undefined ? [r.bargeInStopMs] : []));
  const coughGaps = results.flatMap((r) => (r.coughGapMs !== undefined ? [r.coughGapMs] : []));
  // The first moment audio could exist: the turn decided, and the providers' chain (final, first
  // token, first clause, first byte) done, plus `lateMs` the fakes themselves were late. Anything
  // after that, to the first avatar frame, the worker added (tokenizing, request set-up, buffering,
  // resampling, the video tick).
  const addedBeyond = (r: TurnResult, lateMs: number): number[] => {
    const s = r.stages;
    if (!s || s.transcriptMs === undefined || s.endOfTurnMs === undefined) return [];
    const possible = Math.max(s.endOfTurnMs, s.transcriptMs + r.draw.llmTtftMs + pacingMs(r) + r.draw.ttsTtfbMs + lateMs);
    return [s.firstAvatarFrameMs - possible];
  };
  const workerAdded = answered.flatMap((r) => addedBeyond(r, 0));
  // The same, less what the fakes themselves were late (their timers and synthesis in the bench's
  // busy process, as they recorded it): the part of worker-added that is the worker's.
  const workerAddedLessFakes = answered.flatMap((r) => (r.fakesLateMs !== undefined ? addedBeyond(r, r.fakesLateMs) : []));
  const fakesLate = answered.flatMap((r) => (r.fakesLateMs !== undefined ? [r.fakesLateMs] : []));
  const stageNames = ['transcriptMs', 'endOfTurnMs', 'llmFirstTokenMs', 'ttsFirstAudioMs', 'firstAvatarFrameMs'] as const;
  const stagesMs: Record<string, number> = {};
  for (const name of stageNames) {
    const v = answered.flatMap((r) => (r.stages?.[name] !== undefined ? [r.stages[name]!] : []));
    if (v.length) stagesMs[name] = percentile(v, 50);
  }
  return {
    e2eAtEarMs: pcts(e2e, true),
    e2eLessTransportMs: pcts(
      e2e.map((v) => v - transportTotal),
      true,
    ),
    turnOverheadMs: pcts(answered.map((r) => r.e2eMs! - transportTotal - chain(r))),
    falseCutIns: results.filter((r) => r.falseCutIn).length,
    missedTurns: results.filter((r) => r.missed).length,
    turns: results.length,
    bargeInStopMs: pcts(barge),
    bargeInStopLessTransportMs: pcts(barge.map((v) => v - transportTotal)),
    bargeIns: barge.length,
    coughGapMs: pcts(coughGaps),
    coughs: coughGaps.length,
    coughRepliesLost: results.filter((r) => r.coughLostReply).length,
    workerAddedMs: pcts(workerAdded),
    workerAddedLessFakesMs: pcts(workerAddedLessFakes),
    fakesLateMs: pcts(fakesLate),
    stagesMs,
    linksMs: Object.fromEntries((Object.keys(LINKS) as LinkName[]).flatMap((name) => {
      const v = linkValues(answered, name);
      return v.length ? [[name, pcts(v)]] : [];
    })),
    newConnections: {
      llm: answered.filter((r) => r.fakes?.chatNewConnection).length,
      tts: answered.filter((r) => r.fakes?.speechNewConnection).length,
      of: answered.filter((r) => r.fakes).length,
    },
  };
}

/** Width of a value column: "123 / 1234" and a space. */
const CELL = 13;

export function formatTable(report: BenchReport): string {
  const ours = report.configs.ours;
  const stock = report.configs.stock;
  const names = (['ours', 'stock'] as const).filter((n) => report.configs[n]);
  const rows: [string, (s: ConfigSummary) => number | string][] = [
    ['end to end at the ear p50', (s) => s.e2eAtEarMs.p50],
    ['  p95', (s) => s.e2eAtEarMs.p95],
    ['  p99', (s) => s.e2eAtEarMs.p99 ?? NaN],
    ['less transport p50', (s) => s.e2eLessTransportMs.p50],
    ['  p95', (s) => s.e2eLessTransportMs.p95],
    ['turn overhead (less chain) p50', (s) => s.turnOverheadMs.p50],
    ['  p95', (s) => s.turnOverheadMs.p95],
    ['worker-added p50', (s) => s.workerAddedMs.p50],
    ['  p95', (s) => s.workerAddedMs.p95],
    ['  less the fakes\' own lateness p50', (s) => s.workerAddedLessFakesMs.p50],
    ['    p95', (s) => s.workerAddedLessFakesMs.p95],
    ['fakes\' own lateness p50 / p95', (s) => `${Math.round(s.fakesLateMs.p50)} / ${Math.round(s.fakesLateMs.p95)}`],
    ['barge-in: voice stops at ear p50', (s) => s.bargeInStopMs.p50],
    ['  p95', (s) => s.bargeInStopMs.p95],
    ['  p95 less transport', (s) => s.bargeInStopLessTransportMs.p95],
    ['cough over the reply: longest gap p50', (s) => s.coughGapMs.p50],
    ['  p95', (s) => s.coughGapMs.p95],
    ['  replies lost to a cough', (s) => `${s.coughRepliesLost}/${s.coughs}`],
    ['false cut-ins', (s) => `${s.falseCutIns}/${s.turns}`],
    ['missed turns', (s) => `${s.missedTurns}/${s.turns}`],
    ['worker: final transcript (median)', (s) => s.stagesMs.transcriptMs ?? NaN],
    ['worker: turn committed', (s) => s.stagesMs.endOfTurnMs ?? NaN],
    ['worker: LLM first token', (s) => s.stagesMs.llmFirstTokenMs ?? NaN],
    ['worker: TTS first audio', (s) => s.stagesMs.ttsFirstAudioMs ?? NaN],
    ['worker: first avatar frame', (s) => s.stagesMs.firstAvatarFrameMs ?? NaN],
    ['replies on a new connection: LLM / TTS', (s) => `${s.newConnections.llm}/${s.newConnections.tts} of ${s.newConnections.of}`],
    ...(Object.keys(LINKS) as LinkName[]).map((name): [string, (s: ConfigSummary) => string] => [`link: ${name} p50 / p95`, (s) => (s.linksMs[name] ? `${Math.round(s.linksMs[name].p50)} / ${Math.round(s.linksMs[name].p95)}` : '–')]),
  ];
  const cell = (v: number | string) => (typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v)) : '–') : v).padStart(CELL);
  const labelWidth = Math.max(36, ...rows.map(([label]) => label.length + 1));
  const lines = [
    `## Turn-taking at the user's ear: profile ${report.profile}, corpus ${report.corpus}, ms`,
    `test server transport (click, median): user→agent ${report.transportMs.userToAgent}, agent→user ${report.transportMs.agentToUser}; ${report.machine}`,
    ...(report.benchEventLoopMs ? [`the bench's own event loop (test server, fakes, callers), delay p50 / p99 / max: ${report.benchEventLoopMs.p50} / ${report.benchEventLoopMs.p99} / ${report.benchEventLoopMs.max}; the fakes' marks carry it`] : []),
    ...(report.eotModel
      ? [`end-of-turn model (v1-mini) on this corpus: ${report.eotModel.endsLikely}/${report.eotModel.ends} ends judged complete (→ min delay), ${report.eotModel.pausesUnlikely}/${report.eotModel.pauses} pauses judged incomplete (→ max delay)`,
          `  simulated, same delays: ${describePolicies(report.eotModel)}`,
        ]
      : []),
    ...(report.oursSettings ? [`ours: TURN_PRESET=tuned with ${Object.entries(report.oursSettings).map(([k, v]) => `${k}=${v}`).join(' ')}`] : []),
    `${''.padEnd(labelWidth)}${names.map((n) => n.padStart(CELL)).join('')}${ours && stock ? '  ours/stock'.padStart(12) : ''}`,
  ];
  for (const [label, get] of rows) {
    const values = names.map((n) => get(report.configs[n]!));
    const ratio = ours && stock && typeof get(ours) === 'number' && label.includes('p') && !label.startsWith('false') ? ((get(ours) as number) / (get(stock) as number)).toFixed(2) : '';
    lines.push(`${label.padEnd(labelWidth)}${values.map(cell).join('')}${ratio ? ratio.padStart(12) : ''}`);
  }
  return lines.join('\n');
}

/** The JSON of issue 12 (per config summary), plus the raw turns for anyone who wants to look closer. */
export async function writeJson(path: string, report: BenchReport): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}

const COLORS: Record<ConfigName, string> = { ours: '#1f77b4', stock: '#d62728' };

/** CDF of end to end at the ear, one line per config, transport marked; PNG (and SVG beside it). */
export async function writeCdfPlot(path: string, report: BenchReport): Promise<void> {
  const W = 720;
  const H = 420;
  const M = { left: 60, right: 20, top: 44, bottom: 52 };
  const series = (['ours', 'stock'] as const).flatMap((name) => {
    const turns = report.turns[name];
    if (!turns) return [];
    const v = turns.flatMap((t) => (t.e2eMs !== undefined ? [t.e2eMs] : [])).sort((a, b) => a - b);
    return [{ name, values: v }];
  });
  const xMax = Math.ceil(Math.max(1000, ...series.flatMap((s) => s.values)) / 500) * 500;
  const px = (x: number) => M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - y * (H - M.top - M.bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">End of the user's last word → first reply audio at the ear (profile ${report.profile})</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = i / 4;
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`, `<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end" fill="#555">${i * 25}%</text>`);
  }
  for (let x = 0; x <= xMax; x += 500) parts.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle" fill="#555">${x}</text>`);
  // The 1-second budget, and what the test server's transport alone takes.
  const transport = report.transportMs.userToAgent + report.transportMs.agentToUser;
  parts.push(`<line x1="${px(1000)}" x2="${px(1000)}" y1="${M.top}" y2="${py(0)}" stroke="#2ca02c" stroke-dasharray="6 4"/>`, `<text x="${px(1000) + 4}" y="${M.top + 12}" fill="#2ca02c">1 s budget</text>`);
  parts.push(`<rect x="${px(0)}" y="${M.top}" width="${px(transport) - px(0)}" height="${py(0) - M.top}" fill="#999" opacity="0.15"/>`, `<text x="${px(0) + 4}" y="${py(0) - 6}" fill="#666">test server transport ${transport} ms</text>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`, `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${py(0)}" stroke="#333"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">ms (turns answered within, cumulative)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[s.name];
    const n = s.values.length;
    let d = `M${px(0)},${py(0)}`;
    s.values.forEach((v, k) => {
      d += ` L${px(v).toFixed(1)},${py(k / n).toFixed(1)} L${px(v).toFixed(1)},${py((k + 1) / n).toFixed(1)}`;
    });
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const summary = report.configs[s.name];
    // Bottom right: the curves rise to the top right, where a legend would cover them.
    const ly = H - M.bottom - 48 + i * 18;
    parts.push(`<line x1="${W - 250}" x2="${W - 226}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`, `<text x="${W - 220}" y="${ly + 4}">${s.name}: p50 ${summary?.e2eAtEarMs.p50 ?? '–'}, p95 ${summary?.e2eAtEarMs.p95 ?? '–'} ms</text>`);
  });
  parts.push('</svg>');
  const svg = parts.join('\n');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path.replace(/\.png$/, '.svg'), svg);
  await writeFile(path, new Resvg(svg, { font: { loadSystemFonts: true } }).render().asPng());
}

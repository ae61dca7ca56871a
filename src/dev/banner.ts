import type { Config } from '../config/config.js';

/**
 * The one start-up block of `npm run dev`: what runs, why (which key chose it), where, what next.
 * Keys no stage uses are not repeated here: the worker says so once, in its first lines.
 */
export function startupBlock(config: Config, avatarAdapter: string, livekitHow: string, pageUrl: string): string {
  const { stt, llm, tts, choices } = config;
  const rows: [string, string, string][] = [
    ['speech to text', `${stt.provider} ${stt.model}${stt.baseUrl ? ` at ${stt.baseUrl}` : ''}`, choices.stt.because],
    ['language model', `${llm.provider} ${llm.model}${llm.baseUrl ? ` at ${llm.baseUrl}` : ''}`, choices.llm.because],
    ['text to speech', `${tts.provider} ${tts.model}, voice ${tts.voice}${tts.baseUrl ? ` at ${tts.baseUrl}` : ''}`, choices.tts.because],
    ['avatar', `${config.avatar.name} (${avatarAdapter})`, `AVATAR=${config.avatar.name}`],
    ['LiveKit', config.livekit.url, livekitHow],
  ];
  const w1 = Math.max(...rows.map((r) => r[0].length));
  const w2 = Math.max(...rows.map((r) => r[1].length));
  return [
    '',
    'voice-avatar-worker is running (npm run dev)',
    ...rows.map(([a, b, c]) => `  ${a.padEnd(w1)}  ${b.padEnd(w2)}  (${c})`),
    '',
    `  Open ${pageUrl} and click "Start conversation".`,
    '  `npm run doctor` checks every key and server; Ctrl+C stops everything.',
    '',
  ].join('\n');
}

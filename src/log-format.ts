import type { DestinationStream } from 'pino';

/**
 * Readable log lines for development (`npm run dev`), the same shape as the agents framework's
 * own dev lines, so one terminal shows one format:
 *   [14:03:07.412] INFO (AJ_x3Yb, room demo): playing 2.1 s of audio ada said before …  durationMs=2130
 * Production (`start`) keeps pino's JSON. The job and room ids lead every line of a job.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'jobId', 'room', 'err']);

export function prettyDestination(dest: DestinationStream): DestinationStream {
  return { write: (line: string) => dest.write(formatLine(line)) };
}

export function formatLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 23);
  const level = LEVELS[o.level as number] ?? String(o.level);
  const where = [o.jobId, o.room !== undefined ? `room ${String(o.room)}` : undefined].filter(Boolean).join(', ');
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const err = o.err as { message?: string; stack?: string } | undefined;
  const stack = err ? `\n    ${(err.stack ?? err.message ?? '').split('\n').join('\n    ')}` : '';
  return `[${time}] ${level}${where ? ` (${where})` : ''}: ${String(o.msg ?? '')}${fields ? `  ${fields}` : ''}${stack}\n`;
}

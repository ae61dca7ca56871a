/**
 * The server's log: every line is kept (tests assert on them, e.g. that a malformed message was
 * noticed) and printed to stderr only when asked, so a passing test run stays quiet.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  at: number;
  level: LogLevel;
  msg: string;
}

export interface ServerLog {
  readonly lines: readonly LogLine[];
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** `print`: the least level written to stderr, or false for none. Keeps the last `keep` lines. */
export function createServerLog(print: LogLevel | false, keep = 2_000): ServerLog {
  const lines: LogLine[] = [];
  const write = (level: LogLevel, msg: string) => {
    lines.push({ at: Date.now(), level, msg });
    if (lines.length > keep) lines.splice(0, lines.length - keep);
    if (print !== false && ORDER[level] >= ORDER[print]) {
      process.stderr.write(`[livekit-test-server] ${level} ${msg}\n`);
    }
  };
  return {
    lines,
    debug: (msg) => write('debug', msg),
    info: (msg) => write('info', msg),
    warn: (msg) => write('warn', msg),
    error: (msg) => write('error', msg),
  };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

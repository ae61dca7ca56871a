import { pino, type Logger, type DestinationStream } from 'pino';
import { prettyDestination } from './log-format.js';

/**
 * The one logger. Every line goes through a scrubber that replaces any configured secret value
 * (API keys, the LiveKit secret) wherever it appears: in a message, an error, a URL a library
 * put in its error text. Redacting field names alone would miss those.
 */
export function createLogger(opts: { level: string; secrets?: readonly string[]; destination?: DestinationStream; name?: string; format?: 'pretty' | 'json' }): Logger {
  const secrets = [...new Set(opts.secrets ?? [])].filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  const raw = opts.destination ?? pino.destination({ fd: 1, sync: false });
  // Readable lines in development (see log-format.ts); JSON otherwise.
  const dest = opts.format === 'pretty' ? prettyDestination(raw) : raw;
  const scrubbed: DestinationStream = secrets.length
    ? { write: (line: string) => dest.write(scrubSecrets(line, secrets)) }
    : dest;
  return pino(
    {
      level: opts.level,
      base: { name: opts.name ?? 'voice-avatar-worker' },
      redact: { paths: ['apiKey', '*.apiKey', 'apiSecret', '*.apiSecret', 'headers.authorization', '*.headers.authorization'], censor: '[secret]' },
    },
    scrubbed,
  );
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[secret]');
  return out;
}

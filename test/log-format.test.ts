import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.js';

describe('log format', () => {
  it('dev: one readable line per entry, led by the job and room ids, secrets scrubbed', () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'info', format: 'pretty', secrets: ['sk-pretty-123456'], destination: { write: (l: string) => void out.push(l) } });
    logger.child({ jobId: 'AJ_abc', room: 'demo' }).warn({ durationMs: 2130 }, 'key sk-pretty-123456 used');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN \(AJ_abc, room demo\): key \[secret\] used {2}durationMs=2130\n$/);
  });

  it('production: JSON with the job and room ids', () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', destination: { write: (l: string) => void out.push(l) } });
    logger.child({ jobId: 'AJ_abc', room: 'demo' }).info('hello');
    expect(JSON.parse(out[0]!)).toMatchObject({ jobId: 'AJ_abc', room: 'demo', msg: 'hello', level: 30 });
  });
});

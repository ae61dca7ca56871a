/**
 * The page as `npm run build:web` builds it (web/vite.config.ts), into a folder of the test's own:
 * the test always runs the current web/ source, never a stale dist/web, and does not touch the
 * dist/web a developer may be serving. Vite builds it in a couple of seconds.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../e2e/worker-process.js';

const run = promisify(execFile);

export async function buildPage(outDir: string): Promise<void> {
  const vite = join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
  try {
    await run(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--sourcemap', 'false', '--logLevel', 'warn'], {
      cwd: REPO_ROOT,
      // A deadline, not an estimate: a couple of seconds on a quiet machine, minutes on a loaded one.
      timeout: 180_000,
      maxBuffer: 4 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string; killed?: boolean };
    const why = e.killed ? 'did not finish within 180 s' : 'failed';
    throw new Error(`building the page (vite build --config web/vite.config.ts) ${why}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  if (!existsSync(join(outDir, 'index.html'))) throw new Error(`vite build wrote no index.html to ${outDir}`);
}

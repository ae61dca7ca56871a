import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Newest modification time under `dir` (files only), 0 when there is nothing. */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** dist/web is missing or older than web/ (sources, index.html, config). */
export function pageIsStale(root: string): boolean {
  const built = join(root, 'dist/web/index.html');
  if (!existsSync(built)) return true;
  return newest(join(root, 'web')) > statSync(built).mtimeMs;
}

/** `vite build` of the page (as `npm run build:web`), output kept for an error message. */
export function buildPage(root: string): Promise<void> {
  const vite = join(createRequire(join(root, 'package.json')).resolve('vite/package.json'), '../bin/vite.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`building the page failed (vite build, exit ${code}):\n${out.slice(-3000)}`))));
  });
}

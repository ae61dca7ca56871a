/**
 * A CPU profile of one job process, for the benches: what keeps the job's one event loop busy when
 * a turn's worker-added time has a tail. `node --cpu-prof` cannot be used for it: Node refuses the
 * flag in NODE_OPTIONS, and agents forks job processes with its own arguments. So the job starts
 * V8's sampling profiler itself (node:inspector, in-process) when the bench names a directory, and
 * writes `job-<pid>.cpuprofile` (Chrome DevTools' format) when the job ends.
 */
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bench only: a directory for each job's CPU profile; unset in production. */
export const CPU_PROFILE_DIR_ENV = 'VOICE_AVATAR_CPU_PROFILE_DIR';

/** Starts profiling this process if the bench asked for it; returns what writes the profile, or undefined. */
export async function startJobCpuProfile(env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<string>) | undefined> {
  const dir = env[CPU_PROFILE_DIR_ENV];
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 1 ms between samples (V8's default is ~1 ms too): a stall of 20 ms shows as ~20 samples.
  await session.post('Profiler.setSamplingInterval', { interval: 1_000 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `job-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  };
}

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * CPU busy fraction (0..1) of what this worker may use, sampled over `intervalMs`: the cgroup's
 * usage against its quota in a container (Kubernetes limits), else the machine's busy cores
 * against NUM_CPUS when set (a pod's CPU request), else against all its cores.
 * The agents framework measures the same way for its default load function but does not export
 * its monitor, and our load function needs the CPU figure beside the render count.
 */
export async function sampleCpuLoad(intervalMs: number): Promise<number> {
  const cgroup = readCgroupUsageUs();
  if (cgroup !== undefined) {
    const cores = cgroupCores();
    await sleep(intervalMs);
    const after = readCgroupUsageUs() ?? cgroup;
    return clamp01((after - cgroup) / 1000 / (intervalMs * cores));
  }
  const before = cpus();
  await sleep(intervalMs);
  const after = cpus();
  let idle = 0;
  let total = 0;
  after.forEach((cpu, i) => {
    const prev = before[i];
    if (!prev) return;
    const sum = (t: typeof cpu.times) => t.user + t.nice + t.sys + t.idle + t.irq;
    idle += cpu.times.idle - prev.times.idle;
    total += sum(cpu.times) - sum(prev.times);
  });
  if (total <= 0) return 0;
  const busyCores = (1 - idle / total) * after.length;
  return clamp01(busyCores / cgroupCores());
}

/** Cores this worker may use: the cgroup quota (cpu.max), NUM_CPUS when set, else the machine's. */
export function cgroupCores(): number {
  const fromEnv = Number(process.env.NUM_CPUS);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv;
  try {
    const [quota, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (quota && quota !== 'max' && period) return Number(quota) / Number(period);
  } catch {
    // not in a cgroup v2 container
  }
  return cpus().length || 1;
}

function readCgroupUsageUs(): number | undefined {
  try {
    const line = readFileSync('/sys/fs/cgroup/cpu.stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('usage_usec'));
    return line ? Number(line.split(/\s+/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

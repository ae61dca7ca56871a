/**
 * Counting what a long-lived stream keeps: objects handed to it are tracked by WeakRef, a full
 * garbage collection runs, and whatever is still reachable is counted. A leak that keeps every
 * audio frame for the life of a stream (livekit/agents-js #1950) shows as survivors ≈ frames
 * pushed; a fixed one as a handful (the frames still in flight).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | undefined;

/** A full GC without starting Node with --expose-gc (the flag set at run time reaches new contexts). */
export function forceGc(): void {
  if (!gcFn) {
    gcFn = (globalThis as { gc?: () => void }).gc;
    if (!gcFn) {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

export class Survivors {
  readonly #refs: WeakRef<object>[] = [];

  track<T extends object>(value: T): T {
    this.#refs.push(new WeakRef(value));
    return value;
  }

  get tracked(): number {
    return this.#refs.length;
  }

  /**
   * Survivors after a full GC. WeakRef targets touched in the current job stay alive until it
   * ends, so the GC runs in a fresh macrotask.
   */
  async count(): Promise<number> {
    await new Promise((resolve) => setImmediate(resolve));
    forceGc();
    await new Promise((resolve) => setImmediate(resolve));
    return this.#refs.filter((r) => r.deref() !== undefined).length;
  }

  /**
   * Waits (GC every 100 ms) until at most `max` survive; resolves with the last count either way,
   * so the test's assertion names the number when the wait runs out.
   */
  async settle(max: number, withinMs: number): Promise<number> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const n = await this.count();
      if (n <= max || Date.now() > deadline) return n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * The longest list of reactions waiting on one promise anywhere in this process's heap (read from
 * a heap snapshot, which takes a few seconds). Racing many reads against one promise that never
 * settles leaves a reaction on it per race (livekit/agents-js #1950's shape): its list then grows
 * with every race, where a promise that is awaited normally has a handful.
 */
export async function longestReactionList(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'reactions-'));
  try {
    const file = writeHeapSnapshot(join(dir, 'heap.heapsnapshot'));
    const raw = JSON.parse(await readFile(file, 'utf8')) as {
      snapshot: { meta: { node_fields: string[]; edge_fields: string[] } };
      nodes: number[];
      edges: number[];
      strings: string[];
    };
    const nf = raw.snapshot.meta.node_fields.length;
    const ef = raw.snapshot.meta.edge_fields.length;
    const [iName, iEdges] = [raw.snapshot.meta.node_fields.indexOf('name'), raw.snapshot.meta.node_fields.indexOf('edge_count')];
    const iTo = raw.snapshot.meta.edge_fields.indexOf('to_node');
    const count = raw.nodes.length / nf;
    const isReaction = new Uint8Array(count);
    for (let n = 0; n < count; n++) if (raw.strings[raw.nodes[n * nf + iName]!] === 'system / PromiseReaction') isReaction[n] = 1;
    // A reaction's `next` is its one edge to another reaction.
    const next = new Int32Array(count).fill(-1);
    const hasPrev = new Uint8Array(count);
    for (let n = 0, e = 0; n < count; n++) {
      const edges = raw.nodes[n * nf + iEdges]!;
      for (let k = 0; k < edges; k++, e++) {
        const to = raw.edges[e * ef + iTo]! / nf;
        if (isReaction[n] && isReaction[to] && to !== n) {
          next[n] = to;
          hasPrev[to] = 1;
        }
      }
    }
    let longest = 0;
    for (let n = 0; n < count; n++) {
      if (!isReaction[n] || hasPrev[n]) continue;
      let length = 0;
      for (let m = n; m !== -1 && length <= count; m = next[m]!) length++;
      longest = Math.max(longest, length);
    }
    return longest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

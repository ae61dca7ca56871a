/**
 * Counting what a long-lived stream keeps: objects handed to it are tracked by WeakRef, a full
 * garbage collection runs, and whatever is still reachable is counted. A leak that keeps every
 * audio frame for the life of a stream (livekit/agents-js #1950) shows as survivors ≈ frames
 * pushed; a fixed one as a handful (the frames still in flight).
 */
import { setFlagsFromString } from 'node:v8';
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

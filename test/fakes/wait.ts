/** Bounded waits for tests: a broken client or fake must fail a test with a message, never hang it. */

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads `source` until `stop` returns true for an item (included in the result) or the source ends.
 * Throws when `ms` pass first, listing what was read so far.
 */
export async function readUntil<T>(
  source: AsyncIterator<T>,
  stop: (item: T) => boolean,
  ms: number,
  describe: (item: T) => string = (item) => String(item),
): Promise<{ items: T[]; ended: boolean }> {
  const items: T[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    let result: IteratorResult<T>;
    try {
      result = await withTimeout(source.next(), Math.max(1, left), 'the next item');
    } catch {
      throw new Error(`timed out after ${ms} ms; read so far: [${items.map(describe).join(', ')}]`);
    }
    if (result.done) return { items, ended: true };
    items.push(result.value);
    if (stop(result.value)) return { items, ended: false };
  }
}

/**
 * Runs `fn` while collecting unhandled promise rejections instead of letting the test runner count
 * them as failures, and returns them. For client code known to leave a rejection unhandled (agents
 * 1.9.0's TTS ChunkedStream rethrows a failed attempt from a promise nobody awaits; LiveKit's job
 * process swallows such rejections, vitest does not), so a test can assert on it instead.
 * `settleMs` gives the rejection time to surface after `fn` returns.
 */
export async function collectUnhandledRejections<T>(fn: () => Promise<T>, settleMs = 50): Promise<{ result: T; rejections: unknown[] }> {
  const rejections: unknown[] = [];
  const previous = process.listeners('unhandledRejection');
  const collect = (reason: unknown) => rejections.push(reason);
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', collect);
  try {
    const result = await fn();
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return { result, rejections };
  } finally {
    process.off('unhandledRejection', collect);
    for (const listener of previous) process.on('unhandledRejection', listener);
  }
}

/** Polls `condition` every 10 ms until it holds; throws after `ms`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

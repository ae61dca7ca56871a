/**
 * Holds a producer that runs ahead of real time (the TTS feeding an avatar output) while too much
 * is queued, and wakes it when the queue has drained or its audio was thrown away (interruption,
 * close). Waiters re-check their condition when woken, so a spurious wake-up is harmless.
 */
export class Backpressure {
  private waiters: (() => void)[] = [];

  /** `over()`: is more queued than the producer may run ahead? */
  constructor(private readonly over: () => boolean) {}

  /** Wait while over the limit, for as long as `wanted()` says this producer's audio still counts. */
  async wait(wanted: () => boolean): Promise<void> {
    while (this.over() && wanted()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Wake the waiters once the queue is under the limit, or always with `force` (they re-check). */
  release(force = false): void {
    if (!force && this.over()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

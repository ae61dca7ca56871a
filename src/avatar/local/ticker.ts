/**
 * A video clock that does not drift: tick k is due at start + k / fps, whatever the timer
 * jitter. Each wake-up reports how many ticks fell due, so a starved process can catch up on
 * audio while dropping the frames it is too late to show.
 */
export class FrameTicker {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private ticksDone = 0;

  constructor(
    private readonly fps: number,
    private readonly onTick: (due: number) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.startedAt = performance.now();
    this.ticksDone = 0;
    this.schedule();
  }

  /**
   * Re-phases the clock so that a tick happens now and the next ones follow from now: a reply's
   * first audio need not wait up to a frame for the tick that would have played it. No-op when
   * stopped.
   */
  tickNow(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.startedAt = performance.now();
    this.ticksDone = 1;
    try {
      this.onTick(1);
    } finally {
      if (this.timer) this.schedule();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const nextAt = this.startedAt + (this.ticksDone * 1000) / this.fps;
    this.timer = setTimeout(() => this.fire(), Math.max(0, nextAt - performance.now()));
  }

  private fire(): void {
    if (!this.timer) return;
    const elapsed = performance.now() - this.startedAt;
    const dueTotal = Math.floor((elapsed * this.fps) / 1000) + 1;
    const due = Math.max(1, dueTotal - this.ticksDone);
    this.ticksDone += due;
    try {
      this.onTick(due);
    } finally {
      if (this.timer) this.schedule();
    }
  }
}

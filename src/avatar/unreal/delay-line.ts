/**
 * Holds the agent's voice back so the listener hears each sound when Unreal shows the mouth for
 * it. Audio goes in one 10 ms chunk per tick (the same chunk Unreal receives as microphone audio
 * that tick) and comes out `target` chunks later. The target may change (a new measurement); the
 * line only grows or shrinks in silence, so a word is never stretched or cut.
 */
export interface DelayedChunk<T> {
  pcm: Int16Array;
  /** False for the silence between replies. */
  speech: boolean;
  /** Caller's tag (the segment the audio belongs to). */
  tag: T;
}

export class DelayLine<T> {
  private chunks: DelayedChunk<T>[] = [];
  private target = 0;

  constructor(readonly chunkMs: number) {}

  /** The wanted hold, in milliseconds (rounded to whole chunks). */
  setDelayMs(ms: number): void {
    this.target = Math.max(0, Math.round(ms / this.chunkMs));
  }

  get delayMs(): number {
    return this.target * this.chunkMs;
  }

  /** What the line holds now, in milliseconds. */
  get heldMs(): number {
    return this.chunks.length * this.chunkMs;
  }

  /** Adds this tick's chunk; returns the chunk due to be heard now, if any. */
  push(chunk: DelayedChunk<T>): DelayedChunk<T> | undefined {
    this.chunks.push(chunk);
    // Shrink: silence at the head beyond the target is dropped (shortens a pause, never speech).
    while (this.chunks.length > this.target + 1 && !this.chunks[0]!.speech) this.chunks.shift();
    if (this.chunks.length > this.target) return this.chunks.shift();
    // Grow: holding back is done by emitting nothing, which is only allowed in silence.
    if (this.chunks[0]!.speech) return this.chunks.shift();
    return undefined;
  }

  /** Silences every held chunk whose tag matches (an interruption), keeping the timing. */
  silence(match: (tag: T) => boolean): void {
    for (const c of this.chunks) {
      if (c.speech && match(c.tag)) {
        c.speech = false;
        c.pcm = new Int16Array(c.pcm.length);
      }
    }
  }

  /** True while any held chunk with this tag is still speech. */
  holds(match: (tag: T) => boolean): boolean {
    return this.chunks.some((c) => c.speech && match(c.tag));
  }
}

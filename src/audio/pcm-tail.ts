import { concatPcm } from './pcm.js';

/**
 * The last `capacity` samples of a stream, in chunks as they were pushed: what an output has handed
 * on but the listener may not have heard yet, so a pause can take it back instead of losing it.
 */
export class PcmTail {
  private chunks: Int16Array[] = [];
  private total = 0;

  constructor(private readonly capacity: number) {}

  /** Keeps a reference: the caller must not reuse `pcm`. */
  push(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.chunks.push(pcm);
    this.total += pcm.length;
    while (this.chunks.length > 1 && this.total - this.chunks[0]!.length >= this.capacity) this.total -= this.chunks.shift()!.length;
  }

  /** Removes and returns the newest `n` samples (fewer when it holds fewer), oldest first. */
  takeLast(n: number): Int16Array {
    const taken: Int16Array[] = [];
    let left = Math.min(Math.max(0, Math.round(n)), this.total);
    while (left > 0) {
      const last = this.chunks.at(-1)!;
      if (last.length <= left) {
        taken.unshift(this.chunks.pop()!);
        left -= last.length;
        this.total -= last.length;
      } else {
        taken.unshift(last.subarray(last.length - left));
        this.chunks[this.chunks.length - 1] = last.subarray(0, last.length - left);
        this.total -= left;
        left = 0;
      }
    }
    return concatPcm(taken);
  }

  /** Everything it holds, oldest first, left in place. */
  joined(): Int16Array {
    return concatPcm(this.chunks);
  }

  clear(): void {
    this.chunks = [];
    this.total = 0;
  }
}

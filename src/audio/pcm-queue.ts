/**
 * Mono PCM16 chunks in arrival order, read out in pieces of any size (one video tick's worth)
 * without concatenating the queue. What every real-time avatar output keeps between the TTS,
 * which delivers audio faster than real time, and its clock, which plays it out tick by tick.
 */
export class PcmQueue {
  private chunks: Int16Array[] = [];
  private offset = 0;
  private queued = 0;

  /** Samples waiting. */
  get samples(): number {
    return this.queued;
  }

  push(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.chunks.push(pcm);
    this.queued += pcm.length;
  }

  /** Put audio back at the head, to be taken before everything queued (a rewind). */
  unshift(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    if (this.offset > 0) {
      this.chunks[0] = this.chunks[0]!.subarray(this.offset);
      this.offset = 0;
    }
    this.chunks.unshift(pcm);
    this.queued += pcm.length;
  }

  /** Fill `out` from the head of the queue; returns how many samples were written (fewer when it runs dry). */
  take(out: Int16Array): number {
    let written = 0;
    while (written < out.length && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const n = Math.min(out.length - written, head.length - this.offset);
      out.set(head.subarray(this.offset, this.offset + n), written);
      written += n;
      this.offset += n;
      if (this.offset === head.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.queued -= written;
    return written;
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.queued = 0;
  }
}

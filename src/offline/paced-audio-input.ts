import { voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { ReadableStream } from 'node:stream/web';

const FRAME_MS = 20;

/**
 * A microphone made of recordings: it emits 20 ms frames in real time, forever, playing whatever
 * was queued with `play()` and silence otherwise, exactly as a live microphone would. The
 * session's VAD, turn detector and interruption logic see the same stream they see in a room.
 */
export class PacedAudioInput extends voice.AudioInput {
  private readonly samplesPerFrame: number;
  private queue: Int16Array[] = [];
  private queueOffset = 0;
  private waiters: { remaining: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private framesSent = 0;
  private controller: ReadableStreamDefaultController<AudioFrame> | undefined;

  constructor(readonly sampleRate = 16000) {
    super();
    this.samplesPerFrame = (sampleRate * FRAME_MS) / 1000;
    const stream = new ReadableStream<AudioFrame>({
      start: (controller) => {
        this.controller = controller;
      },
    });
    this.multiStream.addInputStream(stream);
    this.startedAt = performance.now();
    this.schedule();
  }

  /** Queue mono PCM16 at this input's sample rate; resolves once it has all been "spoken". */
  play(pcm: Int16Array): Promise<void> {
    this.queue.push(pcm);
    const remaining = this.queuedSamples();
    return new Promise((resolve) => this.waiters.push({ remaining, resolve }));
  }

  override async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.controller?.close();
    } catch {
      // already closed by the reader
    }
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    await super.close();
  }

  private queuedSamples(): number {
    return this.queue.reduce((n, q) => n + q.length, 0) - this.queueOffset;
  }

  private schedule(): void {
    const due = this.startedAt + (this.framesSent + 1) * FRAME_MS;
    this.timer = setTimeout(() => this.emitDue(), Math.max(0, due - performance.now()));
  }

  private emitDue(): void {
    if (!this.timer) return;
    const due = Math.floor((performance.now() - this.startedAt) / FRAME_MS);
    while (this.framesSent < due) this.emitFrame();
    this.schedule();
  }

  private emitFrame(): void {
    const out = new Int16Array(this.samplesPerFrame);
    let written = 0;
    while (written < out.length && this.queue.length) {
      const head = this.queue[0]!;
      const take = Math.min(out.length - written, head.length - this.queueOffset);
      out.set(head.subarray(this.queueOffset, this.queueOffset + take), written);
      written += take;
      this.queueOffset += take;
      if (this.queueOffset >= head.length) {
        this.queue.shift();
        this.queueOffset = 0;
      }
    }
    this.framesSent++;
    for (const w of this.waiters) w.remaining -= written;
    const done = this.waiters.filter((w) => w.remaining <= 0);
    this.waiters = this.waiters.filter((w) => w.remaining > 0);
    try {
      this.controller?.enqueue(new AudioFrame(out, this.sampleRate, 1, out.length));
    } catch {
      // the session stopped reading
    }
    for (const w of done) w.resolve();
  }
}

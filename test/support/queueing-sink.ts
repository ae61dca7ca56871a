import { PcmTail } from '../../src/audio/pcm-tail.js';
import { MemoryMediaSink } from '../../src/avatar/local/memory-sink.js';

/** The voice in `pcm`, its silence (digital zero) left out: what two takes of one reply share. */
export function voiced(pcm: Int16Array): Int16Array {
  return pcm.filter((v) => v !== 0);
}

/**
 * A sink with a loudspeaker's queue, like RoomMediaSink's AudioSource: the last `queueMs` it was
 * given is still to be played, and clearAudio() throws that away unheard.
 */
export class QueueingSink extends MemoryMediaSink {
  /** What reached the listener: every tick, less what a clear threw away. */
  private readonly heard = new PcmTail(Number.POSITIVE_INFINITY);
  private queuedSamples = 0;

  constructor(private readonly queueMs: number) {
    super();
  }

  override pushAudio(pcm: Int16Array, speech: boolean): void {
    super.pushAudio(pcm, speech);
    this.heard.push(pcm.slice());
    this.queuedSamples = Math.min(this.queuedSamples + pcm.length, (this.queueMs / 1000) * this.format!.sampleRate);
  }

  override clearAudio(): void {
    super.clearAudio();
    this.heard.takeLast(this.queuedSamples);
    this.queuedSamples = 0;
  }

  /** The voice the listener heard, silence left out (the pause's and the reply's own). */
  voiceHeard(): Int16Array {
    return voiced(this.heard.joined());
  }

  override queuedAudioMs(): number {
    return (this.queuedSamples / this.format!.sampleRate) * 1000;
  }
}

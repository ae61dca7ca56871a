import { concatPcm } from '../../src/audio/pcm.js';
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
  readonly heard: Int16Array[] = [];
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
    let drop = this.queuedSamples;
    while (drop > 0 && this.heard.length > 0) {
      const last = this.heard.at(-1)!;
      if (last.length <= drop) {
        this.heard.pop();
        drop -= last.length;
      } else {
        this.heard[this.heard.length - 1] = last.subarray(0, last.length - drop);
        drop = 0;
      }
    }
    this.queuedSamples = 0;
  }

  /** The voice the listener heard, silence left out (the pause's and the reply's own). */
  voiceHeard(): Int16Array {
    return voiced(concatPcm(this.heard));
  }

  override queuedAudioMs(): number {
    return (this.queuedSamples / this.format!.sampleRate) * 1000;
  }
}

/**
 * Energy-based voice activity detection for the fake STT servers: they "hear" an utterance where
 * the client's audio is loud, so a test drives them with real speech and silence, not with cues.
 * Time is audio time (samples received), not wall-clock time, as for a real streaming recognizer:
 * a client may send faster than real time.
 */
import { rms } from './speech.js';

export interface SegmenterOptions {
  sampleRate: number;
  /** Channels interleaved in the input; they are averaged. Default 1. */
  channels?: number;
  /** RMS in PCM16 units above which a window is voiced. Default 400 (about -38 dBFS). */
  threshold?: number;
  /** Silence that ends an utterance. espeak-ng pauses up to ~150 ms at commas; default 300. */
  pauseMs?: number;
  /** Analysis window. Default 10 ms. */
  windowMs?: number;
}

export interface SegmenterHandlers {
  /** Voice begins; `atMs` is the start of the first voiced window. */
  onStart?(atMs: number): void;
  /** Called after every analysed window, voiced or not; `atMs` is the end of the window. */
  onWindow?(atMs: number, voiced: boolean): void;
  /** `pauseMs` of silence followed voice: the utterance spans `startMs`..`endMs` (last voiced window's end). */
  onEnd?(startMs: number, endMs: number): void;
}

export const DEFAULT_SPEECH_THRESHOLD = 400;

export class EnergySegmenter {
  readonly #sampleRate: number;
  readonly #channels: number;
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #windowSamples: number;
  readonly #pauseMs: number;
  #carry = new Int16Array(0);
  #positionMs = 0;
  #utterance: { startMs: number; lastVoiceMs: number } | undefined;
  readonly #handlers: SegmenterHandlers;

  constructor(options: SegmenterOptions, handlers: SegmenterHandlers = {}) {
    this.#handlers = handlers;
    this.#sampleRate = options.sampleRate;
    this.#channels = options.channels ?? 1;
    this.#threshold = options.threshold ?? DEFAULT_SPEECH_THRESHOLD;
    this.#pauseMs = options.pauseMs ?? 300;
    this.#windowMs = options.windowMs ?? 10;
    this.#windowSamples = Math.max(1, Math.round((this.#sampleRate * this.#windowMs) / 1000)) * this.#channels;
  }

  /** Audio time analysed so far. */
  get positionMs(): number {
    return this.#positionMs;
  }

  /** The utterance in progress, if voice was heard and has not ended yet. */
  get current(): { startMs: number; lastVoiceMs: number } | undefined {
    return this.#utterance;
  }

  /** Interleaved PCM16 samples, in any chunking. */
  push(samples: Int16Array): void {
    let input = samples;
    if (this.#carry.length > 0) {
      input = new Int16Array(this.#carry.length + samples.length);
      input.set(this.#carry);
      input.set(samples, this.#carry.length);
    }
    let offset = 0;
    for (; offset + this.#windowSamples <= input.length; offset += this.#windowSamples) {
      this.#analyse(input, offset, offset + this.#windowSamples);
    }
    this.#carry = input.slice(offset);
  }

  /** Little-endian PCM16 bytes, as sent over the wire. An odd trailing byte is dropped. */
  pushBytes(bytes: Uint8Array): void {
    const samples = new Int16Array(bytes.byteLength >> 1);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
    this.push(samples);
  }

  /** Ends the utterance in progress now (Finalize, end of file), without waiting for a pause. */
  flush(): { startMs: number; endMs: number } | undefined {
    const utterance = this.#utterance;
    this.#utterance = undefined;
    return utterance && { startMs: utterance.startMs, endMs: utterance.lastVoiceMs };
  }

  #analyse(input: Int16Array, start: number, end: number): void {
    const mono = this.#channels === 1 ? input.subarray(start, end) : downmix(input.subarray(start, end), this.#channels);
    const voiced = rms(mono) > this.#threshold;
    const windowStart = this.#positionMs;
    this.#positionMs += this.#windowMs;
    if (voiced) {
      if (!this.#utterance) {
        this.#utterance = { startMs: windowStart, lastVoiceMs: this.#positionMs };
        this.#handlers.onStart?.(windowStart);
      }
      this.#utterance.lastVoiceMs = this.#positionMs;
    }
    this.#handlers.onWindow?.(this.#positionMs, voiced);
    const utterance = this.#utterance;
    if (utterance && !voiced && this.#positionMs - utterance.lastVoiceMs >= this.#pauseMs) {
      this.#utterance = undefined;
      this.#handlers.onEnd?.(utterance.startMs, utterance.lastVoiceMs);
    }
  }
}

function downmix(samples: Int16Array, channels: number): Int16Array {
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c]!;
    out[i] = Math.round(sum / channels);
  }
  return out;
}

/** Utterances found in a whole recording (for the request/response STT endpoints). */
export function findUtterances(
  samples: Int16Array,
  options: SegmenterOptions,
): { startMs: number; endMs: number }[] {
  const found: { startMs: number; endMs: number }[] = [];
  const segmenter = new EnergySegmenter(options, { onEnd: (startMs, endMs) => found.push({ startMs, endMs }) });
  segmenter.push(samples);
  const tail = segmenter.flush();
  if (tail) found.push(tail);
  return found;
}

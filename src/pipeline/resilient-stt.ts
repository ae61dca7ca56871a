import { APIConnectionError, log, metrics, stt, type APIConnectOptions } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

/**
 * A streaming STT that survives its provider's socket dying under it.
 *
 * Why it exists: `@livekit/agents-plugin-deepgram` 1.9.0 hands its socket monitor (a `Task`, not a
 * promise) to `Promise.all`, so when the Deepgram WebSocket drops abruptly (network, NET-0001 idle
 * close) the plugin only logs "Deepgram WebSocket closed unexpectedly": no error event, no
 * reconnect, and the stream stays open but deaf, so every later user turn is silently lost.
 *
 * Why a wrapper and not `stt.FallbackAdapter` (even with the same STT twice): the adapter only
 * moves on when a child stream's iterator ends or throws, and the broken plugin stream does
 * neither. The plugin's socket is a local variable of its `#runWS`, so short of monkey-patching
 * there is no way to watch it. What is observable from outside is behaviour: a live Deepgram
 * stream answers speech (SpeechStarted, interim and final Results) within a second or so.
 *
 * So each outer stream owns one inner plugin stream, forwards audio in and events out unchanged,
 * and replaces the inner stream when either
 * - it ends while we still have audio to give it (the plugin gave up; its own error event, forwarded
 *   as recoverable, explains why), or
 * - `minSpeechMs` of loud audio went in and nothing but local usage reports came back for
 *   `answerTimeoutMs` (the deaf socket). This is reported as a recoverable `stt_error`, which
 *   AgentSession surfaces as an `error` event without closing the session.
 * The audio the dead stream swallowed since its last answer (the latest utterance only) is re-sent
 * to the fresh stream, so the utterance that revealed the failure is still transcribed.
 *
 * Trade-off: loud non-speech (noise, music) that Deepgram answers with empty results, which the
 * plugin drops, looks the same as a dead socket. It costs one needless reconnect and a
 * recoverable error, instead of a conversation that never hears the user again.
 */
export interface ResilientSttOptions {
  /** How long loud audio may go without any answer before the inner stream counts as dead. Default 4000. */
  answerTimeoutMs?: number;
  /** How much loud audio must be unanswered before the inner stream counts as dead. Default 600. */
  minSpeechMs?: number;
}

/** RMS, as a fraction of full scale, above which a frame counts as speech (about -40 dBFS). */
const LOUD_RMS = 0.01;
/** Quiet this long starts a new utterance: older audio is not worth re-sending. */
const UTTERANCE_GAP_SEC = 1;
/** Kept before an utterance's first loud frame when re-sending it, so its onset is not clipped. */
const PREROLL_SEC = 0.3;
/** Upper bound on re-sent audio. */
const MAX_REPLAY_SEC = 15;
const CHECK_INTERVAL_MS = 200;
const MAX_BACKOFF_MS = 30_000;

export class ResilientStt extends stt.STT {
  readonly label: string;
  readonly inner: stt.STT;
  readonly options: Required<ResilientSttOptions>;
  readonly #forwardMetrics = (m: metrics.STTMetrics) => this.emit('metrics_collected', m);
  // An inner stream reports an error only when it gives up, and the outer stream then opens a fresh
  // one, so from the session's point of view the error is recoverable (an unrecoverable STT error
  // closes the whole AgentSession).
  readonly #forwardError = (ev: SttError) => this.reportError({ ...ev, recoverable: true });
  readonly #logger = log();

  constructor(inner: stt.STT, options: ResilientSttOptions = {}) {
    super({ ...inner.capabilities });
    this.inner = inner;
    this.label = `ResilientStt<${inner.label}>`;
    this.options = { answerTimeoutMs: options.answerTimeoutMs ?? 4000, minSpeechMs: options.minSpeechMs ?? 600 };
    inner.on('metrics_collected', this.#forwardMetrics);
    inner.on('error', this.#forwardError);
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  // The inner STT's recognize() already emits metrics, forwarded above; going through the base
  // recognize() would count them twice (as stt.FallbackAdapter also avoids).
  override recognize(frame: Parameters<stt.STT['recognize']>[0], abortSignal?: AbortSignal): Promise<stt.SpeechEvent> {
    return this.inner.recognize(frame, abortSignal);
  }

  protected override _recognize(frame: Parameters<stt.STT['recognize']>[0], abortSignal?: AbortSignal): Promise<stt.SpeechEvent> {
    return this.inner.recognize(frame, abortSignal);
  }

  override _updateSessionKeyterms(keyterms: string[]): void {
    this.inner._updateSessionKeyterms(keyterms);
  }

  override _pushConversationItem(ev: Parameters<stt.STT['_pushConversationItem']>[0]): void {
    this.inner._pushConversationItem(ev);
  }

  /**
   * Emits `error` when someone listens (AgentSession does). A bare EventEmitter throws on an
   * unheard `error`, which would kill the stream that is trying to recover.
   * @internal
   */
  reportError(ev: SttError): void {
    if (this.listenerCount('error') > 0) this.emit('error', ev);
    else this.#logger.warn({ stt: this.label, err: ev.error }, 'STT error (no error listener)');
  }

  stream(options?: { connOptions?: APIConnectOptions }): stt.SpeechStream {
    return new ResilientSpeechStream(this, options?.connOptions);
  }

  override async close(): Promise<void> {
    this.inner.off('metrics_collected', this.#forwardMetrics);
    this.inner.off('error', this.#forwardError);
    await this.inner.close();
  }
}

/** agents does not export the type of an STT `error` event. */
type SttError = Parameters<stt.STTCallbacks['error']>[0];
type Input = AudioFrame | symbol;
interface Buffered {
  item: Input;
  sec: number;
  loud: boolean;
}

class ResilientSpeechStream extends stt.SpeechStream {
  label = 'ResilientSpeechStream';
  readonly #owner: ResilientStt;
  readonly #connOptions: APIConnectOptions | undefined;
  readonly #logger = log();
  #inner: stt.SpeechStream | undefined;
  #inputEnded = false;
  /** Seconds of audio received so far: places a fresh inner stream's timestamps. */
  #pushedSec = 0;
  /** Audio since the inner stream last answered (latest utterance only): re-sent to a fresh one. */
  #replay: Buffered[] = [];
  #replaySec = 0;
  #quietSec = 0;
  /** Loud audio the current inner stream has not answered yet. */
  #unanswered: { since: number; loudSec: number } | undefined;
  #declareDeaf: (() => void) | undefined;
  #failures = 0;

  constructor(owner: ResilientStt, connOptions?: APIConnectOptions) {
    // No sample rate: frames pass through as they come and the inner stream resamples them.
    super(owner, undefined, connOptions);
    this.#owner = owner;
    this.#connOptions = connOptions;
  }

  // Usage events come from the inner stream, whose STT's metrics are forwarded by the owner; the
  // base implementation would emit them a second time.
  protected override async monitorMetrics(): Promise<void> {
    for await (const event of this.queue) {
      if (!this.output.closed) this.output.put(event);
    }
    if (!this.output.closed) this.output.close();
  }

  protected async run(): Promise<void> {
    const forwarding = this.#forwardInput();
    const watchdog = setInterval(() => this.#checkAnswered(), CHECK_INTERVAL_MS);
    const closeInner = () => this.#inner?.close();
    this.abortSignal.addEventListener('abort', closeInner, { once: true });
    try {
      while (!this.abortSignal.aborted) {
        const inner = this.#open();
        const outcome = await this.#drain(inner);
        if (this.abortSignal.aborted) break;
        if (outcome === 'ended' && this.#inputEnded) break;
        this.#failures += 1;
        if (outcome === 'deaf') {
          this.#report(`${this.#owner.provider} STT stopped answering: ${this.#describeUnanswered()} (connection dropped?); reconnecting`);
        } else if (!inner._failed) {
          // A failed inner stream already reported why, through the forwarded error event.
          this.#report(`${this.#owner.provider} STT stream ended unexpectedly; reconnecting`);
        }
        this.#unanswered = undefined;
        // Reconnect at once after a first failure (that is the dropped-socket case); back off when
        // the provider keeps failing, so a bad key or an outage does not spin.
        const backoffMs = this.#failures === 1 ? 0 : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.#failures - 2));
        await sleep(backoffMs, this.abortSignal);
      }
    } finally {
      clearInterval(watchdog);
      this.abortSignal.removeEventListener('abort', closeInner);
      this.#inner?.close();
      this.#inner = undefined;
      if (!this.input.closed) this.input.close();
      await forwarding;
    }
  }

  #open(): stt.SpeechStream {
    const inner = this.#owner.inner.stream(this.#connOptions ? { connOptions: this.#connOptions } : undefined);
    inner.startTimeOffset = this.startTimeOffset + this.#pushedSec - this.#replaySec;
    this.#inner = inner;
    this.#unanswered = undefined;
    for (const entry of this.#replay) this.#deliver(entry);
    if (this.#inputEnded) inner.endInput();
    return inner;
  }

  /** Forwards the inner stream's events until it ends, or until the watchdog finds it deaf. */
  async #drain(inner: stt.SpeechStream): Promise<'ended' | 'deaf'> {
    const deaf = new Promise<'deaf'>((resolve) => (this.#declareDeaf = () => resolve('deaf')));
    const events = (async () => {
      for await (const ev of inner) {
        if (this.#inner === inner && ev.type !== stt.SpeechEventType.RECOGNITION_USAGE) this.#answered();
        if (!this.queue.closed) this.queue.put(ev);
      }
      return 'ended' as const;
    })();
    const outcome = await Promise.race([events, deaf]);
    this.#declareDeaf = undefined;
    this.#inner = undefined;
    inner.close();
    await events; // ends at once now: keeps the dead stream's last events ahead of the next one's
    return outcome;
  }

  async #forwardInput(): Promise<void> {
    for await (const item of this.input) {
      const sec = typeof item === 'symbol' ? 0 : item.samplesPerChannel / item.sampleRate;
      const entry: Buffered = { item, sec, loud: typeof item !== 'symbol' && isLoud(item) };
      this.#pushedSec += sec;
      this.#remember(entry);
      this.#deliver(entry);
    }
    this.#inputEnded = true;
    try {
      this.#inner?.endInput();
    } catch {
      // the inner stream is already closing
    }
  }

  #deliver({ item, sec, loud }: Buffered): void {
    const inner = this.#inner;
    if (!inner) return; // between two inner streams: the replay buffer keeps it
    if (loud) {
      this.#unanswered ??= { since: Date.now(), loudSec: 0 };
      this.#unanswered.loudSec += sec;
    }
    try {
      if (typeof item === 'symbol') inner.flush();
      else inner.pushFrame(item);
    } catch {
      // the inner stream is closing under us; the replay buffer keeps the audio for the next one
    }
  }

  #remember(entry: Buffered): void {
    if (entry.loud) {
      if (this.#quietSec >= UTTERANCE_GAP_SEC) this.#trimReplay(PREROLL_SEC);
      this.#quietSec = 0;
    } else {
      this.#quietSec += entry.sec;
    }
    this.#replay.push(entry);
    this.#replaySec += entry.sec;
    this.#trimReplay(MAX_REPLAY_SEC);
  }

  #trimReplay(keepSec: number): void {
    while (this.#replay.length > 0 && this.#replaySec - this.#replay[0]!.sec >= keepSec) {
      this.#replaySec -= this.#replay.shift()!.sec;
    }
  }

  /** The inner stream answered: it was alive for everything sent so far. */
  #answered(): void {
    this.#unanswered = undefined;
    this.#replay = [];
    this.#replaySec = 0;
    this.#failures = 0;
  }

  #checkAnswered(): void {
    const u = this.#unanswered;
    const { answerTimeoutMs, minSpeechMs } = this.#owner.options;
    if (u && u.loudSec * 1000 >= minSpeechMs && Date.now() - u.since >= answerTimeoutMs) this.#declareDeaf?.();
  }

  #describeUnanswered(): string {
    const u = this.#unanswered;
    if (!u) return 'no answer';
    return `no answer to ${u.loudSec.toFixed(1)} s of speech in ${((Date.now() - u.since) / 1000).toFixed(1)} s`;
  }

  #report(message: string): void {
    this.#logger.warn({ stt: this.#owner.label }, message);
    this.#owner.reportError({
      type: 'stt_error',
      timestamp: Date.now(),
      label: this.#owner.label,
      error: new APIConnectionError({ message }),
      recoverable: true,
    });
  }
}

function isLoud(frame: AudioFrame): boolean {
  const samples = frame.data;
  if (samples.length === 0) return false;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length) / 32768 > LOUD_RMS;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

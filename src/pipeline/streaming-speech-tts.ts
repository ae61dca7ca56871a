import { APIConnectionError, APIStatusError, APITimeoutError, AudioByteStream, DEFAULT_API_CONNECT_OPTIONS, shortuuid, tts, type APIConnectOptions } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

/**
 * OpenAI-compatible `/v1/audio/speech` (OpenAI, Kokoro-FastAPI, Speaches, vLLM…), read as it
 * arrives. The agents 1.9 OpenAI plugin awaits the whole response (`arrayBuffer()`) before the
 * first frame, so the user waits for the entire sentence to be synthesised and downloaded; the
 * servers stream raw PCM with chunked transfer anyway (OpenAI: `response_format: pcm`, 24 kHz
 * mono s16le), so reading the body incrementally gives the first frame at the first byte.
 *
 * One request per `synthesize()` (the session's StreamAdapter sends one per sentence or clause),
 * issued at once; a failure before the first frame is retried by agents' ChunkedStream, one after
 * it ends the segment (the user already heard its start; repeating it would be worse).
 */
export const SPEECH_SAMPLE_RATE = 24_000;
/** 20 ms frames: the first one is out as soon as 20 ms of audio has arrived. */
const FRAME_SAMPLES = SPEECH_SAMPLE_RATE / 50;

export interface StreamingSpeechOptions {
  apiKey: string;
  /** e.g. https://api.openai.com/v1 (the `/audio/speech` path is appended). */
  baseUrl: string;
  model: string;
  voice: string;
  speed?: number;
  instructions?: string;
}

export class StreamingSpeechTTS extends tts.TTS {
  override label = 'openai-compatible.StreamingSpeechTTS';
  readonly #options: StreamingSpeechOptions;
  readonly #closed = new AbortController();

  constructor(options: StreamingSpeechOptions) {
    super(SPEECH_SAMPLE_RATE, 1, { streaming: false });
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  override get model(): string {
    return this.#options.model;
  }

  override get provider(): string {
    try {
      return new URL(this.#options.baseUrl).host;
    } catch {
      return 'openai-compatible';
    }
  }

  synthesize(text: string, connOptions?: APIConnectOptions, abortSignal?: AbortSignal): tts.ChunkedStream {
    const signal = abortSignal ? AbortSignal.any([abortSignal, this.#closed.signal]) : this.#closed.signal;
    return new SpeechStream(this, text, this.#options, connOptions, signal);
  }

  stream(): tts.SynthesizeStream {
    throw new Error('StreamingSpeechTTS is request/response per text; agents wraps it in a StreamAdapter for streaming input');
  }

  override async close(): Promise<void> {
    this.#closed.abort();
  }
}

class SpeechStream extends tts.ChunkedStream {
  override label = 'openai-compatible.SpeechStream';
  readonly #options: StreamingSpeechOptions;
  readonly #text: string;
  readonly #signal: AbortSignal;
  readonly #timeoutMs: number;
  /** Issued in the constructor, so the request is on the wire while agents schedules the stream. */
  #response: Promise<Response> | undefined;

  constructor(owner: StreamingSpeechTTS, text: string, options: StreamingSpeechOptions, connOptions: APIConnectOptions | undefined, signal: AbortSignal) {
    super(text, owner, connOptions, signal);
    this.#options = options;
    this.#text = text;
    this.#signal = signal;
    this.#timeoutMs = connOptions?.timeoutMs ?? DEFAULT_API_CONNECT_OPTIONS.timeoutMs;
    this.#response = this.#request();
    this.#response.catch(() => undefined); // observed in run(); never an unhandled rejection
  }

  /** The request, bounded by the connection timeout until its first byte (PROVIDER_TIMEOUT_MS). */
  async #request(): Promise<Response> {
    const o = this.#options;
    const timedOut = new AbortController();
    const timer = setTimeout(() => timedOut.abort(new APITimeoutError({ message: `text-to-speech ${o.baseUrl}/audio/speech sent nothing within ${this.#timeoutMs} ms` })), this.#timeoutMs);
    try {
      return await this.#fetch(AbortSignal.any([this.#signal, timedOut.signal]));
    } catch (err) {
      if (timedOut.signal.aborted && !this.#signal.aborted) throw timedOut.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #fetch(signal: AbortSignal): Promise<Response> {
    const o = this.#options;
    return fetch(`${o.baseUrl}/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: o.model,
        voice: o.voice,
        input: this.#text,
        response_format: 'pcm',
        ...(o.speed !== undefined ? { speed: o.speed } : {}),
        ...(o.instructions ? { instructions: o.instructions } : {}),
      }),
      signal,
    });
  }

  protected async run(): Promise<void> {
    // A retry (agents calls run() again) needs a fresh request.
    const pending = this.#response ?? this.#request();
    this.#response = undefined;
    let emitted = false;
    try {
      let response: Response;
      try {
        response = await pending;
      } catch (err) {
        if (err instanceof APITimeoutError) throw err;
        if (this.#signal.aborted) return;
        throw new APIConnectionError({ message: `text-to-speech request to ${this.#options.baseUrl} failed: ${(err as Error).message}` });
      }
      if (!response.ok || !response.body) {
        const body = await response.text().catch(() => '');
        throw new APIStatusError({ message: `text-to-speech ${this.#options.baseUrl}/audio/speech answered ${response.status}: ${body.slice(0, 300)}`, options: { statusCode: response.status } });
      }
      const requestId = response.headers.get('x-request-id') ?? shortuuid();
      const bytes = new AudioByteStream(SPEECH_SAMPLE_RATE, 1, FRAME_SAMPLES);
      // Holding one frame back lets the last one carry `final: true`.
      let held: AudioFrame | undefined;
      const send = (frame: AudioFrame) => {
        if (held) this.queue.put({ requestId, segmentId: requestId, frame: held, final: false });
        held = frame;
        emitted = true;
      };
      const finish = () => {
        for (const frame of bytes.flush()) send(frame);
        if (held) this.queue.put({ requestId, segmentId: requestId, frame: held, final: true });
        held = undefined;
      };
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const frame of bytes.write(value)) send(frame);
        }
      } catch (err) {
        if (this.#signal.aborted) return;
        if (emitted) {
          // Everything that arrived is played; the rest of the segment is lost, not repeated.
          finish();
          throw new APIConnectionError({ message: `text-to-speech stream broke off: ${(err as Error).message}`, options: { retryable: false } });
        }
        throw new APIConnectionError({ message: `text-to-speech stream failed: ${(err as Error).message}` });
      }
      finish();
    } finally {
      this.queue.close();
    }
  }
}

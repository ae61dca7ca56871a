/**
 * A fake ElevenLabs text-to-speech API on loopback for `@livekit/agents-plugin-elevenlabs`
 * (`new elevenlabs.TTS({ apiKey, baseURL: fake.baseURL })`):
 *
 * - `GET ws://…/v1/text-to-speech/{voice_id}/multi-stream-input?model_id=…&output_format=pcm_22050…`
 *   (the plugin's `stream()`): the multi-context protocol. A context starts with `{text: " ",
 *   context_id}`; text accumulates until `flush: true`, `close_context: true`, or (without flush) a
 *   full sentence in auto_mode / the chunk_length_schedule's first size otherwise. Each generation is
 *   spoken by espeak-ng at the output_format's rate and sent as `{audio: base64 PCM16, alignment,
 *   normalizedAlignment, contextId}` messages of ~150 ms; `close_context` ends with
 *   `{isFinal: true, contextId}`. `{text: "", context_id}` is a keep-alive, `{close_socket: true}`
 *   closes. The socket closes after `inactivity_timeout` seconds without a message (default 20).
 * - `POST http://…/v1/text-to-speech/{voice_id}/stream?output_format=…` (the plugin's
 *   `synthesize()`): the same speech as a chunked `audio/pcm` body.
 * - `GET /v1/voices`: one voice.
 *
 * Alignment is a fake: characters are spread evenly over the generation's audio. Times in each
 * message count from the start of that message's audio (`alignmentClock: 'chunk'`), which is how
 * clients of the real service (pipecat) read them; `'context'` counts from the context's start.
 * `alignment` and `normalizedAlignment` are identical (no text normalization here).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { type FaultKnobs, KnobStore, type RecordedRequest, RequestLog } from './knobs.js';
import { dropConnection, parseUrl, readBody, refuseUpgrade, sendJson, sleep, startLoopbackServer, writeAndWait } from './net.js';
import { synthesize } from './speech.js';

export interface ElevenLabsKnobs extends FaultKnobs {
  /** Delay before the first audio of each generation (and of an HTTP stream). */
  ttfbMs?: number;
  /** Delay between audio messages (0: as fast as the socket takes them). */
  chunkIntervalMs?: number;
}

export interface FakeElevenLabsOptions {
  /** When set, any other `xi-api-key` is refused with 401. A missing key always is. */
  apiKey?: string;
  knobs?: ElevenLabsKnobs;
  /** Audio per message. Default 150 ms. */
  chunkMs?: number;
  /** What alignment times count from; see the module comment. Default `'chunk'`. */
  alignmentClock?: 'chunk' | 'context';
  /** espeak-ng voice used for every ElevenLabs voice_id. Default `en-us`. */
  espeakVoice?: string;
}

export interface FakeElevenLabs {
  /** `http://127.0.0.1:<port>/v1`: the plugin's `baseURL` (it derives ws:// from it). */
  baseURL: string;
  requests: RecordedRequest[];
  readonly knobs: Readonly<ElevenLabsKnobs>;
  setKnobs(patch: Partial<ElevenLabsKnobs>): void;
  close(): Promise<void>;
}

export interface Alignment {
  chars: string[];
  charStartTimesMs: number[];
  charDurationsMs: number[];
}

const DEFAULT_CHUNK_LENGTH = 120; // first entry of ElevenLabs' default chunk_length_schedule
const STREAM_PATH = /^\/v1\/text-to-speech\/([^/]+)\/multi-stream-input$/;
const HTTP_STREAM_PATH = /^\/v1\/text-to-speech\/([^/]+)\/stream$/;

const clientMessageSchema = z.looseObject({
  text: z.string().optional(),
  context_id: z.string().optional(),
  flush: z.boolean().optional(),
  close_context: z.boolean().optional(),
  close_socket: z.boolean().optional(),
  voice_settings: z.record(z.string(), z.unknown()).optional(),
  generation_config: z.looseObject({ chunk_length_schedule: z.array(z.number()).optional() }).optional(),
});
type ClientMessage = z.infer<typeof clientMessageSchema>;

const httpRequestSchema = z.looseObject({ text: z.string().min(1), model_id: z.string().optional() });

export async function startFakeElevenLabs(options: FakeElevenLabsOptions = {}): Promise<FakeElevenLabs> {
  const knobs = new KnobStore<ElevenLabsKnobs>(options.knobs ?? {});
  const log = new RequestLog();
  const server = await startLoopbackServer(
    (req, res) => void handleHttp(req, res).catch(() => res.destroy()),
    (req, socket, head) => handleUpgrade(req, socket, head),
  );
  const settings: SessionSettings = {
    chunkMs: options.chunkMs ?? 150,
    alignmentClock: options.alignmentClock ?? 'chunk',
    espeakVoice: options.espeakVoice,
  };

  function authError(req: IncomingMessage): string | undefined {
    const key = header(req, 'xi-api-key');
    if (!key) return 'Missing xi-api-key header.';
    if (options.apiKey !== undefined && key !== options.apiKey) return 'Invalid API key.';
    return undefined;
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = parseUrl(req);
    const voiceId = STREAM_PATH.exec(url.pathname)?.[1];
    if (!voiceId) return refuseUpgrade(socket, 404, elError('not_found', `no route ${url.pathname}`));
    const fault = knobs.takeFault();
    const record = log.add({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      endpoint: 'multi-stream-input',
      apiKey: header(req, 'xi-api-key'),
      fault,
      messages: [],
      sent: [],
    });
    const reject = (status: number, body: unknown) => {
      record.status = status;
      refuseUpgrade(socket, status, body);
    };
    if (fault === 'http500') return reject(500, elError('internal_error', 'Fault injected by the fake.'));
    const auth = authError(req);
    if (auth) return reject(401, elError('invalid_api_key', auth));
    const params = parseStreamParams(url.searchParams);
    if (typeof params === 'string') return reject(400, elError('invalid_request', params));

    server.wss.handleUpgrade(req, socket, head, (ws) => {
      record.status = 101;
      ws.on('error', () => {});
      if (fault === 'hang') {
        ws.on('message', (data) => record.messages!.push(parseMessage(data)));
        return;
      }
      new MultiStreamSession(ws, params, record, { knobs, signal: server.signal, drop: fault === 'drop', ...settings });
    });
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseUrl(req);
    const raw = await readBody(req);
    // The doctor's key check: the key's user and subscription (401 for a bad key, like the real API).
    if (req.method === 'GET' && url.pathname === '/v1/user') {
      const refused = authError(req);
      if (refused) return sendJson(res, 401, elError('invalid_api_key', refused));
      return sendJson(res, 200, { user_id: 'fake-user', subscription: { tier: 'free', character_count: 0, character_limit: 10_000, status: 'active' }, is_new_user: false, first_name: 'Fake' });
    }
    if (req.method === 'GET' && url.pathname === '/v1/voices') {
      return sendJson(res, 200, { voices: [{ voice_id: 'fake-voice', name: 'Fake (espeak-ng)', category: 'premade' }] });
    }
    const voiceId = req.method === 'POST' ? HTTP_STREAM_PATH.exec(url.pathname)?.[1] : undefined;
    if (!voiceId) return sendJson(res, 404, elError('not_found', `no route ${req.method} ${url.pathname}`));
    const fault = knobs.takeFault();
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = raw.toString('utf8');
    }
    const record = log.add({ method: 'POST', path: url.pathname, query: url.searchParams, headers: req.headers, endpoint: 'stream', apiKey: header(req, 'xi-api-key'), fault, body });
    const answer = (status: number, payload: unknown) => {
      record.status = status;
      sendJson(res, status, payload);
    };
    if (fault === 'hang') return;
    if (fault === 'http500') return answer(500, elError('internal_error', 'Fault injected by the fake.'));
    const auth = authError(req);
    if (auth) return answer(401, elError('invalid_api_key', auth));
    const sampleRate = parsePcmFormat(url.searchParams.get('output_format') ?? 'mp3_44100_128');
    if (typeof sampleRate === 'string') return answer(400, elError('invalid_output_format', sampleRate));
    const parsed = httpRequestSchema.safeParse(body);
    if (!parsed.success) return answer(400, elError('invalid_request', z.prettifyError(parsed.error)));

    const audio = await synthesize(parsed.data.text, { sampleRate, voice: settings.espeakVoice });
    const bytes = Buffer.from(audio.samples.buffer, audio.samples.byteOffset, audio.samples.byteLength);
    const { ttfbMs = 0, chunkIntervalMs = 0 } = knobs.current;
    await sleep(ttfbMs, server.signal);
    if (server.signal.aborted) return;
    record.status = 200;
    res.writeHead(200, { 'Content-Type': 'audio/pcm', 'Transfer-Encoding': 'chunked', 'request-id': randomUUID() });
    const chunkBytes = Math.round((sampleRate * settings.chunkMs) / 1000) * 2;
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      if (server.signal.aborted || res.destroyed) return;
      if (offset > 0) await sleep(chunkIntervalMs, server.signal);
      await writeAndWait(res, bytes.subarray(offset, offset + chunkBytes));
      if (fault === 'drop') return dropConnection(res);
    }
    res.end();
  }

  return {
    baseURL: `http://127.0.0.1:${server.port}/v1`,
    requests: log.entries,
    get knobs() {
      return knobs.current;
    },
    setKnobs: (patch) => knobs.set(patch),
    close: () => server.close(),
  };
}

interface StreamParams {
  modelId: string;
  sampleRate: number;
  autoMode: boolean;
  syncAlignment: boolean;
  inactivityTimeoutS: number;
}

function parseStreamParams(q: URLSearchParams): StreamParams | string {
  const modelId = q.get('model_id');
  if (!modelId) return 'model_id is required';
  const sampleRate = parsePcmFormat(q.get('output_format') ?? 'mp3_44100_128');
  if (typeof sampleRate === 'string') return sampleRate;
  const inactivityTimeoutS = Number(q.get('inactivity_timeout') ?? '20');
  if (!(inactivityTimeoutS > 0 && inactivityTimeoutS <= 180)) return `inactivity_timeout must be between 1 and 180 (got ${q.get('inactivity_timeout')})`;
  return { modelId, sampleRate, autoMode: q.get('auto_mode') === 'true', syncAlignment: q.get('sync_alignment') === 'true', inactivityTimeoutS };
}

/** The sample rate of a `pcm_<rate>` output format, or an error message for formats the fake cannot make. */
function parsePcmFormat(format: string): number | string {
  const match = /^pcm_(8000|16000|22050|24000|44100|48000)$/.exec(format);
  if (!match) return `this fake produces raw pcm_<rate> output formats only (got ${format})`;
  return Number(match[1]);
}

interface SessionSettings {
  chunkMs: number;
  alignmentClock: 'chunk' | 'context';
  espeakVoice: string | undefined;
}

interface SessionDeps extends SessionSettings {
  knobs: KnobStore<ElevenLabsKnobs>;
  signal: AbortSignal;
  drop: boolean;
}

interface Context {
  buffer: string;
  /** First size of the context's chunk_length_schedule: un-flushed text is generated past it. */
  chunkLength: number;
  /** Audio already generated in this context, for the 'context' alignment clock. */
  elapsedMs: number;
  spoken: boolean;
}

/** One multi-stream-input WebSocket connection. */
class MultiStreamSession {
  readonly #ws: WebSocket;
  readonly #params: StreamParams;
  readonly #record: RecordedRequest;
  readonly #deps: SessionDeps;
  readonly #contexts = new Map<string, Context>();
  /** Generations are spoken one after another, in the order they were triggered. */
  #outbox: Promise<void> = Promise.resolve();
  #audioMessages = 0;
  #inactivityTimer: NodeJS.Timeout | undefined;

  constructor(ws: WebSocket, params: StreamParams, record: RecordedRequest, deps: SessionDeps) {
    this.#ws = ws;
    this.#params = params;
    this.#record = record;
    this.#deps = deps;
    ws.on('message', (data) => this.#onMessage(data));
    ws.on('close', () => clearTimeout(this.#inactivityTimer));
    this.#armInactivityTimer();
  }

  #onMessage(data: RawData): void {
    const raw = parseMessage(data);
    this.#record.messages!.push(raw);
    this.#armInactivityTimer();
    const parsed = clientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.#send({ error: 'invalid_message', message: z.prettifyError(parsed.error) });
      return;
    }
    const message = parsed.data;
    if (message.close_socket) {
      for (const id of this.#contexts.keys()) this.#closeContext(id);
      this.#enqueue(() => this.#ws.close(1000));
      return;
    }
    const id = message.context_id ?? '';
    if (message.close_context) return this.#closeContext(id);
    if (message.text === undefined) return;
    let context = this.#contexts.get(id);
    if (!context) {
      context = { buffer: '', chunkLength: message.generation_config?.chunk_length_schedule?.[0] ?? DEFAULT_CHUNK_LENGTH, elapsedMs: 0, spoken: false };
      this.#contexts.set(id, context);
    }
    context.buffer += message.text;
    if (message.flush) this.#generate(id, context, context.buffer.length);
    else this.#generate(id, context, this.#readyLength(context));
  }

  /** How much un-flushed text is ready to speak: whole sentences in auto_mode, else a schedule-sized chunk. */
  #readyLength(context: Context): number {
    if (this.#params.autoMode) {
      const lastSentenceEnd = Math.max(...[...context.buffer.matchAll(/[.!?;:](\s|$)/g)].map((m) => m.index + 1), 0);
      return lastSentenceEnd;
    }
    if (context.buffer.trim().length < context.chunkLength) return 0;
    const lastSpace = context.buffer.lastIndexOf(' ');
    return lastSpace > 0 ? lastSpace : context.buffer.length;
  }

  #closeContext(id: string): void {
    const context = this.#contexts.get(id);
    if (!context) return;
    this.#contexts.delete(id);
    this.#generate(id, context, context.buffer.length);
    this.#enqueue(() => this.#send({ isFinal: true, contextId: id }));
  }

  /** Speaks the first `length` characters of the context's buffer (if they hold any words). */
  #generate(id: string, context: Context, length: number): void {
    const text = context.buffer.slice(0, length).replace(/\s+/g, ' ').trim();
    context.buffer = context.buffer.slice(length);
    if (text === '') return;
    // Later generations start with the space that separated them from the previous one.
    const chars = Array.from(context.spoken ? ` ${text}` : text);
    context.spoken = true;
    const audio = synthesize(text, { sampleRate: this.#params.sampleRate, voice: this.#deps.espeakVoice });
    audio.catch(() => {}); // awaited in order below; an espeak failure is reported there
    this.#enqueue(async () => {
      const { samples } = await audio.catch((err: Error) => {
        this.#send({ error: 'generation_failed', message: err.message, contextId: id });
        throw err;
      });
      await sleep(this.#deps.knobs.current.ttfbMs ?? 0, this.#deps.signal);
      const rate = this.#params.sampleRate;
      const totalMs = (samples.length / rate) * 1000;
      const perChar = totalMs / chars.length;
      const chunkSamples = Math.max(1, Math.round((rate * this.#deps.chunkMs) / 1000));
      for (let start = 0; start < samples.length; start += chunkSamples) {
        if (this.#deps.signal.aborted || this.#ws.readyState !== this.#ws.OPEN) return;
        if (start > 0) await sleep(this.#deps.knobs.current.chunkIntervalMs ?? 0, this.#deps.signal);
        const end = Math.min(samples.length, start + chunkSamples);
        const fromMs = (start / rate) * 1000;
        const toMs = (end / rate) * 1000;
        const first = Math.ceil(fromMs / perChar - 1e-9);
        const last = end === samples.length ? chars.length : Math.ceil(toMs / perChar - 1e-9);
        const origin = this.#deps.alignmentClock === 'chunk' ? fromMs : -context.elapsedMs;
        const alignment = first < last ? alignmentFor(chars, first, last, perChar, origin) : null;
        const pcm = samples.subarray(start, end);
        this.#send({
          audio: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64'),
          ...(this.#params.syncAlignment || alignment ? { alignment, normalizedAlignment: alignment } : {}),
          contextId: id,
        });
        this.#audioMessages += 1;
        if (this.#deps.drop && this.#audioMessages === 1) {
          this.#ws.terminate();
          return;
        }
      }
      context.elapsedMs += totalMs;
    });
  }

  #enqueue(task: () => void | Promise<void>): void {
    this.#outbox = this.#outbox.then(task).catch(() => {});
  }

  #send(message: unknown): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#record.sent!.push(message);
    this.#ws.send(JSON.stringify(message));
  }

  #armInactivityTimer(): void {
    clearTimeout(this.#inactivityTimer);
    this.#inactivityTimer = setTimeout(() => {
      if (this.#ws.readyState === this.#ws.OPEN) {
        this.#ws.close(1008, `Have not received a new text input within the timeout of ${this.#params.inactivityTimeoutS} seconds.`.slice(0, 120));
      }
    }, this.#params.inactivityTimeoutS * 1000);
  }
}

/** Characters `first`..`last` with evenly spread times, counted from `originMs`. */
function alignmentFor(chars: string[], first: number, last: number, perChar: number, originMs: number): Alignment {
  const slice = chars.slice(first, last);
  return {
    chars: slice,
    charStartTimesMs: slice.map((_, i) => Math.round((first + i) * perChar - originMs)),
    charDurationsMs: slice.map(() => Math.round(perChar)),
  };
}

function parseMessage(data: RawData): unknown {
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** ElevenLabs' error body shape. */
function elError(status: string, message: string) {
  return { detail: { status, message } };
}

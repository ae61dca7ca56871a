/**
 * A fake Deepgram speech-to-text server on loopback, for `@livekit/agents-plugin-deepgram`'s STT
 * (`new deepgram.STT({ apiKey, baseUrl: fake.baseUrl })`).
 *
 * - `GET ws://…/v1/listen?encoding=linear16&sample_rate=…` (streaming): hears the client's audio with
 *   an energy detector and answers like Deepgram: `SpeechStarted` (vad_events=true), interim
 *   `Results` (is_final false) with a growing prefix of the scripted transcript while voice goes on,
 *   then a final `Results` (is_final and speech_final true) after the endpointing pause, with word
 *   timings, and `UtteranceEnd` (utterance_end_ms). Text messages: `KeepAlive`, `Finalize` (final
 *   result now, from_finalize true), `CloseStream` (finals, `Metadata`, close 1000). Like Deepgram,
 *   it closes a connection that sends nothing for 10 s (NET-0001).
 * - `POST http://…/v1/listen` (pre-recorded, `STT.recognize()`): a WAV body, one transcript.
 *
 * The words are scripted (`transcripts`), one per detected utterance. Timings are audio time.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { parseWav, toMono, WavFormatError } from '../../src/audio/wav.js';
import { credentialFromAuthorization, type FaultKnobs, KnobStore, type RecordedRequest, RequestLog } from './knobs.js';
import { dropConnection, parseUrl, readBody, refuseUpgrade, sendJson, sleep, startLoopbackServer } from './net.js';
import { ScriptedTranscripts, spreadWords, type TranscriptScript } from './script.js';
import { EnergySegmenter, findUtterances } from './vad.js';

export interface DeepgramKnobs extends FaultKnobs {
  /** Added before every final result (streaming) or before the answer (pre-recorded). */
  latencyMs?: number;
}

/** The fake's own endpointing: the silence after which it finalises an utterance. */
export const DEFAULT_MIN_PAUSE_MS = 200;

export interface FakeDeepgramOptions {
  /** What each detected utterance "said", in order. Default: nothing (empty transcripts). */
  transcripts?: TranscriptScript;
  /** When set, any other key is refused with 401. A missing `Authorization` header always is. */
  apiKey?: string;
  knobs?: DeepgramKnobs;
  /** RMS (PCM16 units) above which 10 ms of audio counts as voice. Default 400. */
  speechThreshold?: number;
  /**
   * Shortest pause that ends an utterance, whatever `endpointing` asks. The plugin asks for 25 ms,
   * shorter than the pauses espeak-ng makes between words, which would cut one scripted utterance
   * into several. Default 200 ms.
   */
  minPauseMs?: number;
  /** Audio time between interim results. Default 250 ms. */
  interimIntervalMs?: number;
  /** Pace at which interim results reveal words. Default 300 ms per word. */
  msPerWord?: number;
  /** Close a connection that sent nothing for this long, as Deepgram does (NET-0001). 0 disables. Default 10 s. */
  idleTimeoutMs?: number;
}

export interface FakeDeepgram {
  /** `ws://127.0.0.1:<port>`: the plugin's `baseUrl` (it appends `/v1/listen`). */
  baseUrl: string;
  /** Every upgrade and HTTP request received, with the messages of each connection. */
  requests: RecordedRequest[];
  readonly knobs: Readonly<DeepgramKnobs>;
  setKnobs(patch: Partial<DeepgramKnobs>): void;
  /** Utterances transcribed so far (scripted transcripts consumed). */
  readonly utterances: number;
  close(): Promise<void>;
}

const MODEL_UUID = '1abfe86b-e047-4eed-858a-35e5625b41ee';
const DEFAULT_ENDPOINTING_MS = 300;
const NET_0001 = 'Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001';

export async function startFakeDeepgram(options: FakeDeepgramOptions = {}): Promise<FakeDeepgram> {
  const knobs = new KnobStore<DeepgramKnobs>(options.knobs ?? {});
  const log = new RequestLog();
  const script = new ScriptedTranscripts(options.transcripts);

  const server = await startLoopbackServer(
    (req, res) => void handleHttp(req, res).catch(() => res.destroy()),
    (req, socket, head) => handleUpgrade(req, socket, head),
  );

  function authenticate(req: IncomingMessage): { apiKey?: string; error?: string } {
    const apiKey = credentialFromAuthorization(req.headers.authorization, 'Token') ?? credentialFromAuthorization(req.headers.authorization, 'Bearer');
    if (!apiKey) return { error: 'No credentials were provided (expected "Authorization: Token <key>").' };
    if (options.apiKey !== undefined && apiKey !== options.apiKey) return { apiKey, error: 'Invalid credentials.' };
    return { apiKey };
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = parseUrl(req);
    if (url.pathname !== '/v1/listen') return refuseUpgrade(socket, 404, dgError('Not Found', `no route ${url.pathname}`));
    const fault = knobs.takeFault();
    const auth = authenticate(req);
    const record = log.add({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      endpoint: 'listen',
      apiKey: auth.apiKey,
      fault,
      messages: [],
      binaryBytes: 0,
      binaryMessages: 0,
      sent: [],
    });
    const reject = (status: number, body: unknown) => {
      record.status = status;
      refuseUpgrade(socket, status, body);
    };
    if (fault === 'http500') return reject(500, dgError('INTERNAL_SERVER_ERROR', 'Fault injected by the fake.'));
    if (auth.error) return reject(401, dgError('INVALID_AUTH', auth.error));
    const params = parseStreamParams(url.searchParams);
    if (typeof params === 'string') return reject(400, dgError('Bad Request', params));

    server.wss.handleUpgrade(req, socket, head, (ws) => {
      record.status = 101;
      ws.on('error', () => {});
      if (fault === 'hang') {
        ws.on('message', (data, isBinary) => recordMessage(record, data, isBinary));
        return;
      }
      new ListenSession(ws, params, record, {
        script,
        knobs,
        signal: server.signal,
        dropAfterFirstResult: fault === 'drop',
        speechThreshold: options.speechThreshold,
        minPauseMs: options.minPauseMs ?? DEFAULT_MIN_PAUSE_MS,
        interimIntervalMs: options.interimIntervalMs ?? 250,
        msPerWord: options.msPerWord ?? 300,
        idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
      });
    });
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseUrl(req);
    // The cheapest authenticated call (the doctor's key check): Deepgram lists the key's projects.
    if (req.method === 'GET' && url.pathname === '/v1/projects') {
      const auth = authenticate(req);
      log.add({ method: 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, endpoint: 'projects', apiKey: auth.apiKey, fault: null });
      if (auth.error) return sendJson(res, 401, dgError('INVALID_AUTH', auth.error), { 'dg-request-id': randomUUID() });
      return sendJson(res, 200, { projects: [{ project_id: '3b5bd2a4-1c1e-4f5f-9b0e-7d2a6c1f0e11', name: 'Fake project' }] }, { 'dg-request-id': randomUUID() });
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/listen') return sendJson(res, 404, dgError('Not Found', `no route ${req.method} ${url.pathname}`));
    const body = await readBody(req);
    const fault = knobs.takeFault();
    const auth = authenticate(req);
    const record = log.add({
      method: 'POST',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      endpoint: 'listen-prerecorded',
      apiKey: auth.apiKey,
      fault,
      body: { contentType: req.headers['content-type'], bytes: body.byteLength },
    });
    const answer = (status: number, payload: unknown) => {
      record.status = status;
      sendJson(res, status, payload, { 'dg-request-id': randomUUID() });
    };
    if (fault === 'hang') return;
    if (fault === 'drop') return dropConnection(res);
    if (fault === 'http500') return answer(500, dgError('INTERNAL_SERVER_ERROR', 'Fault injected by the fake.'));
    if (auth.error) return answer(401, dgError('INVALID_AUTH', auth.error));
    let audio;
    try {
      audio = toMono(parseWav(body, 'request body'));
    } catch (err) {
      if (err instanceof WavFormatError) return answer(400, dgError('Bad Request', `${err.message} (this fake accepts WAV bodies only)`));
      throw err;
    }
    await sleep(knobs.current.latencyMs ?? 0, server.signal);
    const utterances = findUtterances(audio.samples, { sampleRate: audio.sampleRate, threshold: options.speechThreshold, pauseMs: options.minPauseMs ?? DEFAULT_MIN_PAUSE_MS });
    const pieces = utterances.map((u) => ({ u, text: script.take() })).filter((p) => p.text !== '');
    const punctuate = url.searchParams.get('punctuate') === 'true' || url.searchParams.get('smart_format') === 'true';
    const words = pieces.flatMap((p) => dgWords(p.text, p.u.startMs, p.u.endMs, punctuate));
    const durationSec = audio.samples.length / audio.sampleRate;
    answer(200, {
      metadata: metadataFields(randomUUID(), createHash('sha256').update(body).digest('hex'), durationSec, url.searchParams.get('model') ?? 'base'),
      results: {
        channels: [{ alternatives: [{ transcript: pieces.map((p) => formatTranscript(p.text, punctuate)).join(' '), confidence: words.length ? 0.98 : 0, words }] }],
      },
    });
  }

  return {
    baseUrl: `ws://127.0.0.1:${server.port}`,
    requests: log.entries,
    get knobs() {
      return knobs.current;
    },
    setKnobs: (patch) => knobs.set(patch),
    get utterances() {
      return script.used;
    },
    close: () => server.close(),
  };
}

interface StreamParams {
  sampleRate: number;
  channels: number;
  model: string;
  interimResults: boolean;
  vadEvents: boolean;
  punctuate: boolean;
  /** null: endpointing=false, no speech_final from silence. */
  endpointingMs: number | null;
  utteranceEndMs: number | null;
}

/** Validates the query as Deepgram would; returns the error message on failure. */
function parseStreamParams(q: URLSearchParams): StreamParams | string {
  const encoding = q.get('encoding');
  if (encoding !== 'linear16') return `this fake decodes raw encoding=linear16 only (got ${encoding ?? 'none'})`;
  const sampleRate = Number(q.get('sample_rate'));
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) return 'sample_rate is required for raw audio';
  const channels = Number(q.get('channels') ?? '1');
  if (!Number.isInteger(channels) || channels <= 0) return `invalid channels ${q.get('channels')}`;
  const endpointing = q.get('endpointing');
  const endpointingMs = endpointing === 'false' ? null : endpointing === null || endpointing === 'true' ? DEFAULT_ENDPOINTING_MS : Number(endpointing);
  if (endpointingMs !== null && !(endpointingMs >= 0)) return `invalid endpointing ${endpointing}`;
  const utteranceEnd = q.get('utterance_end_ms');
  const utteranceEndMs = utteranceEnd === null ? null : Number(utteranceEnd);
  if (utteranceEndMs !== null && !(utteranceEndMs > 0)) return `invalid utterance_end_ms ${utteranceEnd}`;
  return {
    sampleRate,
    channels,
    model: q.get('model') ?? 'base',
    interimResults: q.get('interim_results') === 'true',
    vadEvents: q.get('vad_events') === 'true',
    punctuate: q.get('punctuate') === 'true' || q.get('smart_format') === 'true',
    endpointingMs,
    utteranceEndMs,
  };
}

interface SessionDeps {
  script: ScriptedTranscripts;
  knobs: KnobStore<DeepgramKnobs>;
  signal: AbortSignal;
  dropAfterFirstResult: boolean;
  speechThreshold: number | undefined;
  minPauseMs: number;
  interimIntervalMs: number;
  msPerWord: number;
  idleTimeoutMs: number;
}

/** One `/v1/listen` WebSocket connection. */
class ListenSession {
  readonly #ws: WebSocket;
  readonly #params: StreamParams;
  readonly #record: RecordedRequest;
  readonly #deps: SessionDeps;
  readonly #segmenter: EnergySegmenter;
  readonly #requestId = randomUUID();
  readonly #hash = createHash('sha256');
  /** Outgoing messages go through one chain, so a delayed final never overtakes what follows it. */
  #outbox: Promise<void> = Promise.resolve();
  /** Start (audio ms) of the span the next Results message covers: Deepgram's `start`. */
  #cursorMs = 0;
  #utterance: { tokens: string[]; startMs: number; shown: number; lastInterimMs: number } | undefined;
  /** End of the last final word, while an UtteranceEnd is due. */
  #lastWordEndMs: number | undefined;
  #resultsSent = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(ws: WebSocket, params: StreamParams, record: RecordedRequest, deps: SessionDeps) {
    this.#ws = ws;
    this.#params = params;
    this.#record = record;
    this.#deps = deps;
    const pauseMs = Math.max(params.endpointingMs ?? 0, deps.minPauseMs);
    this.#segmenter = new EnergySegmenter(
      { sampleRate: params.sampleRate, channels: params.channels, threshold: deps.speechThreshold, pauseMs },
      {
        onStart: (atMs) => this.#onVoiceStart(atMs),
        onWindow: (atMs) => this.#onWindow(atMs),
        onEnd: (startMs, endMs) => this.#finalize({ startMs, endMs, speechFinal: params.endpointingMs !== null, fromFinalize: false }),
      },
    );
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', () => clearTimeout(this.#idleTimer));
    this.#armIdleTimer();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    recordMessage(this.#record, data, isBinary);
    this.#armIdleTimer();
    if (this.#closing) return;
    if (isBinary) {
      const bytes = rawBytes(data);
      this.#hash.update(bytes);
      this.#segmenter.pushBytes(bytes);
      return;
    }
    const message = this.#record.messages!.at(-1) as { type?: string } | undefined;
    switch (message?.type) {
      case 'KeepAlive':
        break;
      case 'Finalize':
        this.#flushUtterance(true);
        break;
      case 'CloseStream':
        this.#closing = true;
        this.#flushUtterance(false);
        this.#enqueue(() => {
          this.#send({ type: 'Metadata', ...metadataFields(this.#requestId, this.#hash.digest('hex'), this.#segmenter.positionMs / 1000, this.#params.model) });
          this.#ws.close(1000);
        });
        break;
      default:
        // Deepgram ignores messages it does not know; the request log keeps them for assertions.
        break;
    }
  }

  #onVoiceStart(atMs: number): void {
    this.#lastWordEndMs = undefined;
    const tokens = this.#deps.script.take().split(/\s+/).filter(Boolean);
    this.#utterance = { tokens, startMs: atMs, shown: 0, lastInterimMs: atMs };
    if (this.#params.vadEvents) this.#enqueue(() => this.#send({ type: 'SpeechStarted', channel: [0, 1], timestamp: atMs / 1000 }));
  }

  #onWindow(atMs: number): void {
    const utterance = this.#utterance;
    if (utterance && this.#params.interimResults && atMs - utterance.lastInterimMs >= this.#deps.interimIntervalMs) {
      utterance.lastInterimMs = atMs;
      const words = Math.min(utterance.tokens.length, Math.ceil((atMs - utterance.startMs) / this.#deps.msPerWord));
      if (words > utterance.shown) {
        utterance.shown = words;
        this.#sendResults({ text: utterance.tokens.slice(0, words).join(' '), wordsFromMs: utterance.startMs, wordsToMs: atMs, atMs, isFinal: false, speechFinal: false, fromFinalize: false });
      }
    }
    const due = this.#lastWordEndMs;
    if (!utterance && due !== undefined && this.#params.utteranceEndMs !== null && atMs - due >= this.#params.utteranceEndMs) {
      this.#lastWordEndMs = undefined;
      this.#enqueue(() => this.#send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: due / 1000 }));
    }
  }

  /** Finalize / CloseStream: what was heard so far becomes final now. */
  #flushUtterance(fromFinalize: boolean): void {
    const pending = this.#segmenter.flush();
    if (pending) this.#finalize({ ...pending, speechFinal: false, fromFinalize });
    else if (fromFinalize) {
      const atMs = this.#segmenter.positionMs;
      this.#sendResults({ text: '', wordsFromMs: atMs, wordsToMs: atMs, atMs, isFinal: true, speechFinal: false, fromFinalize, delayed: true });
    }
  }

  #finalize(u: { startMs: number; endMs: number; speechFinal: boolean; fromFinalize: boolean }): void {
    const text = this.#utterance?.tokens.join(' ') ?? '';
    this.#utterance = undefined;
    if (text !== '') this.#lastWordEndMs = u.endMs;
    this.#sendResults({ text, wordsFromMs: u.startMs, wordsToMs: u.endMs, atMs: this.#segmenter.positionMs, isFinal: true, speechFinal: u.speechFinal, fromFinalize: u.fromFinalize, delayed: true });
  }

  #sendResults(r: { text: string; wordsFromMs: number; wordsToMs: number; atMs: number; isFinal: boolean; speechFinal: boolean; fromFinalize: boolean; delayed?: boolean }): void {
    const { punctuate, model } = this.#params;
    const words = dgWords(r.text, r.wordsFromMs, r.wordsToMs, punctuate);
    const message = {
      type: 'Results',
      channel_index: [0, 1],
      duration: round3((r.atMs - this.#cursorMs) / 1000),
      start: round3(this.#cursorMs / 1000),
      is_final: r.isFinal,
      speech_final: r.speechFinal,
      from_finalize: r.fromFinalize,
      channel: { alternatives: [{ transcript: formatTranscript(r.text, punctuate), confidence: words.length ? 0.98 : 0, words }] },
      metadata: { request_id: this.#requestId, model_info: { name: model, version: '2024-01-01.0', arch: model }, model_uuid: MODEL_UUID },
    };
    if (r.isFinal) this.#cursorMs = r.atMs;
    const latencyMs = r.delayed ? (this.#deps.knobs.current.latencyMs ?? 0) : 0;
    this.#enqueue(async () => {
      await sleep(latencyMs, this.#deps.signal);
      this.#send(message);
      this.#resultsSent += 1;
      if (this.#deps.dropAfterFirstResult && this.#resultsSent === 1) this.#ws.terminate();
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

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    if (this.#deps.idleTimeoutMs <= 0) return;
    this.#idleTimer = setTimeout(() => {
      if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(1011, NET_0001.slice(0, 120));
    }, this.#deps.idleTimeoutMs);
  }
}

function recordMessage(record: RecordedRequest, data: RawData, isBinary: boolean): void {
  if (isBinary) {
    record.binaryBytes = (record.binaryBytes ?? 0) + rawBytes(data).byteLength;
    record.binaryMessages = (record.binaryMessages ?? 0) + 1;
    return;
  }
  const text = rawBytes(data).toString('utf8');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // kept as text: the log shows what the client really sent
  }
  record.messages!.push(parsed);
}

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Deepgram's word objects: `word` is lower-case without punctuation, `punctuated_word` as spoken. */
function dgWords(text: string, fromMs: number, toMs: number, punctuate: boolean) {
  return spreadWords(text, fromMs, toMs).map((w) => ({
    word: bareWord(w.token),
    start: round3(w.startMs / 1000),
    end: round3(w.endMs / 1000),
    confidence: 0.98,
    ...(punctuate ? { punctuated_word: w.token } : {}),
  }));
}

/** With punctuate/smart_format off, Deepgram's transcript is bare lower-case words. */
function formatTranscript(text: string, punctuate: boolean): string {
  if (punctuate) return text;
  return text.split(/\s+/).filter(Boolean).map(bareWord).join(' ');
}

function bareWord(token: string): string {
  return token.toLowerCase().replace(/[^\p{L}\p{N}']/gu, '');
}

function metadataFields(requestId: string, sha256: string, durationSec: number, model: string) {
  return {
    transaction_key: 'deprecated',
    request_id: requestId,
    sha256,
    created: new Date().toISOString(),
    duration: round3(durationSec),
    channels: 1,
    models: [MODEL_UUID],
    model_info: { [MODEL_UUID]: { name: model, version: '2024-01-01.0', arch: model } },
  };
}

function dgError(code: string, message: string) {
  return { err_code: code, err_msg: message, request_id: randomUUID() };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * A fake OpenAI API on loopback for `@livekit/agents-plugin-openai` (pass `baseURL: fake.baseURL`):
 *
 * - `POST /v1/chat/completions`: the scripted reply, streamed as word-sized SSE deltas (`data: {…}`
 *   chunks, a `finish_reason` chunk, a usage chunk when `stream_options.include_usage`, then
 *   `data: [DONE]`), or as one JSON completion when `stream` is false.
 * - `POST /v1/audio/speech`: the input spoken by espeak-ng, as raw 24 kHz mono PCM16 (`pcm`, what
 *   the plugin asks for) or WAV, streamed in 100 ms chunks.
 * - `POST /v1/audio/transcriptions`: multipart upload of a WAV; answers the next scripted transcript,
 *   or `""` when the audio holds no speech (energy detection).
 * - `GET /v1/models`: a one-model list (the LLM's prewarm calls it).
 *
 * Errors have OpenAI's shape: `{ error: { message, type, param, code } }`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { encodeWav, parseWav, toMono, WavFormatError } from '../../src/audio/wav.js';
import { credentialFromAuthorization, type FaultKnobs, KnobStore, type RecordedRequest, RequestLog } from './knobs.js';
import { dropConnection, parseUrl, readBody, sendJson, sleep, startLoopbackServer, writeAndWait } from './net.js';
import { ScriptedTranscripts, type TranscriptScript } from './script.js';
import { synthesize } from './speech.js';
import { findUtterances } from './vad.js';

export interface ChatKnobs extends FaultKnobs {
  /** Time to first token: delay before the response starts. */
  ttftMs?: number;
  /** Delay between streamed deltas. */
  tokenIntervalMs?: number;
}

export interface SpeechKnobs extends FaultKnobs {
  /** Delay before the response starts. */
  ttfbMs?: number;
  /** Delay between 100 ms audio chunks (0: as fast as the socket takes them). */
  chunkIntervalMs?: number;
}

export interface TranscriptionKnobs extends FaultKnobs {
  /** Delay before the answer. */
  latencyMs?: number;
}

export interface OpenAIKnobs {
  chat: ChatKnobs;
  speech: SpeechKnobs;
  transcriptions: TranscriptionKnobs;
}
export type OpenAIEndpoint = keyof OpenAIKnobs;

/** A chat message as received (content may be a string or an array of parts). */
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type ChatRequest = z.infer<typeof chatRequestSchema>;

export interface FakeOpenAIOptions {
  /** The assistant's reply. Default: `You said: <last user message>`. */
  reply?: string | ((messages: ChatMessage[], request: ChatRequest) => string | Promise<string>);
  /** Transcripts for `/v1/audio/transcriptions`, one per request that contains speech. */
  transcripts?: TranscriptScript;
  /** When set, any other key is refused with 401. A missing `Authorization: Bearer` always is. */
  apiKey?: string;
  knobs?: Partial<OpenAIKnobs>;
  /** RMS (PCM16 units) above which uploaded audio counts as speech. Default 400. */
  speechThreshold?: number;
  /**
   * What opening a connection costs: the first request on each new connection waits this long, as
   * the TCP and TLS handshakes to a cloud API delay it (this fake is plain HTTP on loopback).
   */
  connectMs?: number;
}

export interface FakeOpenAI {
  /** `http://127.0.0.1:<port>/v1`: the plugins' `baseURL`. */
  baseURL: string;
  requests: RecordedRequest[];
  /** Requests of one endpoint. */
  requestsFor(endpoint: OpenAIEndpoint | 'models'): RecordedRequest[];
  knobs<E extends OpenAIEndpoint>(endpoint: E): Readonly<OpenAIKnobs[E]>;
  setKnobs<E extends OpenAIEndpoint>(endpoint: E, patch: Partial<OpenAIKnobs[E]>): void;
  /** See FakeOpenAIOptions.connectMs. */
  setConnectMs(ms: number): void;
  /** The endpoint of the first request on each connection opened so far, in order. */
  connectionsOpenedBy(): readonly string[];
  close(): Promise<void>;
}

/** OpenAI's TTS output: mono PCM16 at 24 kHz. */
export const OPENAI_TTS_SAMPLE_RATE = 24_000;
const FAKE_MODEL = 'gpt-4.1-mini';

const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });
const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
});
const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});
const speechRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.string().min(1).max(4096),
  voice: z.union([z.string().min(1), z.looseObject({ id: z.string() })]),
  response_format: z.enum(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']).default('mp3'),
  speed: z.number().min(0.25).max(4).default(1),
  instructions: z.string().optional(),
});

type Reply = (status: number, body: unknown) => void;

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const knobs: { [E in OpenAIEndpoint]: KnobStore<OpenAIKnobs[E]> } = {
    chat: new KnobStore<ChatKnobs>(options.knobs?.chat ?? {}),
    speech: new KnobStore<SpeechKnobs>(options.knobs?.speech ?? {}),
    transcriptions: new KnobStore<TranscriptionKnobs>(options.knobs?.transcriptions ?? {}),
  };
  const log = new RequestLog();
  const transcripts = new ScriptedTranscripts(options.transcripts);
  const server = await startLoopbackServer((req, res) => void route(req, res).catch(() => res.destroy()));
  const signal = server.signal;
  // How long an idle connection stays open: 5 s as in uvicorn (vLLM, Kokoro-FastAPI, Speaches) and
  // Node, the shortest of the real servers (Cloudflare's front of the cloud APIs keeps 30-400 s).
  server.server.keepAliveTimeout = 5_000;

  let connectMs = options.connectMs ?? 0;
  const opened = new WeakSet<object>();
  const openedBy: string[] = [];

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseUrl(req);
    const endpoint = ENDPOINTS[`${req.method} ${url.pathname}`];
    const newConnection = !opened.has(req.socket);
    if (newConnection) {
      opened.add(req.socket);
      openedBy.push(endpoint ?? url.pathname);
      await sleep(connectMs, signal);
    }
    const raw = await readBody(req);
    if (!endpoint) return sendJson(res, 404, oaiError(`Invalid URL (${req.method} ${url.pathname})`, 'invalid_request_error', null));

    const fault = endpoint === 'models' ? null : knobs[endpoint].takeFault();
    const apiKey = credentialFromAuthorization(req.headers.authorization, 'Bearer');
    const record = log.add({ method: req.method!, path: url.pathname, query: url.searchParams, headers: req.headers, endpoint, apiKey, fault, newConnection });
    const reply: Reply = (status, body) => {
      record.status = status;
      sendJson(res, status, body, { 'x-request-id': `req_${randomUUID().replaceAll('-', '')}` });
    };
    // Parse first, so the log shows what was sent even when the fault or the key refuses it.
    const body = endpoint === 'transcriptions' ? await parseMultipart(req, raw) : parseJson(raw);
    record.body = body instanceof FormData ? describeForm(body) : body;

    if (fault === 'hang') return;
    if (fault === 'http500') return reply(500, oaiError('The server had an error while processing your request. Sorry about that!', 'server_error', null));
    if (!apiKey) return reply(401, oaiError("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", 'invalid_request_error', null));
    if (options.apiKey !== undefined && apiKey !== options.apiKey) return reply(401, oaiError(`Incorrect API key provided: ${apiKey.slice(0, 3)}***.`, 'invalid_request_error', 'invalid_api_key'));

    switch (endpoint) {
      case 'models':
        return reply(200, { object: 'list', data: [{ id: FAKE_MODEL, object: 'model', created: 1_700_000_000, owned_by: 'fake' }] });
      case 'chat':
        return chat(body, res, reply, record, fault === 'drop');
      case 'speech':
        return speech(body, res, reply, record, fault === 'drop');
      case 'transcriptions':
        return transcribe(body, res, reply, fault === 'drop');
    }
  }

  async function chat(body: unknown, res: ServerResponse, reply: Reply, record: RecordedRequest, drop: boolean): Promise<void> {
    const parsed = chatRequestSchema.safeParse(body);
    if (!parsed.success) return reply(400, oaiError(`Invalid request: ${z.prettifyError(parsed.error)}`, 'invalid_request_error', null));
    const request = parsed.data;
    const text = typeof options.reply === 'function' ? await options.reply(request.messages, request) : (options.reply ?? `You said: ${lastUserText(request.messages)}`);
    const { ttftMs = 0, tokenIntervalMs = 0 } = knobs.chat.current;
    await sleep(ttftMs, signal);
    if (signal.aborted) return;

    const id = `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    const created = Math.floor(Date.now() / 1000);
    const deltas = text.match(/\s*\S+\s*$|\s*\S+/g) ?? [];
    const usage = {
      prompt_tokens: estimateTokens(request.messages.map(messageText).join(' ')),
      completion_tokens: deltas.length,
      total_tokens: 0,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const requestId = `req_${randomUUID().replaceAll('-', '')}`;

    if (!request.stream) {
      record.status = 200;
      return sendJson(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model: request.model,
          choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
          usage,
          service_tier: 'default',
          system_fingerprint: 'fp_fake',
        },
        { 'x-request-id': requestId },
      );
    }

    const includeUsage = request.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: object = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    });
    record.status = 200;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'x-request-id': requestId });
    const events = [
      chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
      ...deltas.map((content) => chunk([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }])),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
      ...(includeUsage ? [chunk([], { usage })] : []),
    ];
    record.writes = [];
    for (const [i, event] of events.entries()) {
      if (signal.aborted || res.destroyed) return;
      if (i > 1) await sleep(tokenIntervalMs, signal);
      record.writes.push(Date.now());
      await writeAndWait(res, `data: ${JSON.stringify(event)}\n\n`);
      // Drop after the first delta that carries text, so the client has seen a partial answer.
      if (drop && i === 1) return dropConnection(res);
    }
    res.end('data: [DONE]\n\n');
  }

  async function speech(body: unknown, res: ServerResponse, reply: Reply, record: RecordedRequest, drop: boolean): Promise<void> {
    const parsed = speechRequestSchema.safeParse(body);
    if (!parsed.success) return reply(400, oaiError(`Invalid request: ${z.prettifyError(parsed.error)}`, 'invalid_request_error', null));
    const { input, response_format: format, speed } = parsed.data;
    if (format !== 'pcm' && format !== 'wav') {
      return reply(400, oaiError(`This fake serves response_format pcm and wav only (got ${format}).`, 'invalid_request_error', 'response_format'));
    }
    const { ttfbMs = 0, chunkIntervalMs = 0 } = knobs.speech.current;
    // The speech is made while the time to first byte runs: a real service's TTFB includes its own
    // synthesis, so espeak-ng's time is not added on top of the one asked for.
    const [audio] = await Promise.all([synthesize(input, { sampleRate: OPENAI_TTS_SAMPLE_RATE, wordsPerMinute: 175 * speed }), sleep(ttfbMs, signal)]);
    if (signal.aborted) return;
    const pcm = Buffer.from(audio.samples.buffer, audio.samples.byteOffset, audio.samples.byteLength);
    const bytes = format === 'wav' ? encodeWav({ sampleRate: OPENAI_TTS_SAMPLE_RATE, channels: 1, samples: audio.samples }) : pcm;
    record.status = 200;
    res.writeHead(200, {
      'Content-Type': format === 'wav' ? 'audio/wav' : 'audio/pcm',
      'Transfer-Encoding': 'chunked',
      'x-request-id': `req_${randomUUID().replaceAll('-', '')}`,
    });
    const chunkBytes = (OPENAI_TTS_SAMPLE_RATE / 10) * 2; // 100 ms
    record.writes = [];
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      if (signal.aborted || res.destroyed) return;
      if (offset > 0) await sleep(chunkIntervalMs, signal);
      record.writes.push(Date.now());
      await writeAndWait(res, bytes.subarray(offset, offset + chunkBytes));
      if (drop) return dropConnection(res);
    }
    res.end();
  }

  async function transcribe(body: unknown, res: ServerResponse, reply: Reply, drop: boolean): Promise<void> {
    if (!(body instanceof FormData)) return reply(400, oaiError('Expected a multipart/form-data body.', 'invalid_request_error', null));
    const file = body.get('file');
    const model = body.get('model');
    if (!(file instanceof File)) return reply(400, oaiError("Missing required parameter: 'file'.", 'invalid_request_error', 'file'));
    if (typeof model !== 'string' || model === '') return reply(400, oaiError("Missing required parameter: 'model'.", 'invalid_request_error', 'model'));
    const format = (body.get('response_format') as string | null) ?? 'json';
    if (!['json', 'text', 'verbose_json'].includes(format)) {
      return reply(400, oaiError(`This fake serves response_format json, text and verbose_json only (got ${format}).`, 'invalid_request_error', 'response_format'));
    }
    let audio;
    try {
      audio = toMono(parseWav(new Uint8Array(await file.arrayBuffer()), file.name));
    } catch (err) {
      if (err instanceof WavFormatError) return reply(400, oaiError(`${err.message} (this fake decodes WAV uploads only)`, 'invalid_request_error', 'file'));
      throw err;
    }
    await sleep(knobs.transcriptions.current.latencyMs ?? 0, signal);
    if (signal.aborted) return;
    if (drop) return dropConnection(res);
    const heard = findUtterances(audio.samples, { sampleRate: audio.sampleRate, threshold: options.speechThreshold }).length > 0;
    const text = heard ? transcripts.take() : '';
    const duration = audio.samples.length / audio.sampleRate;
    if (format === 'text') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end(`${text}\n`);
    }
    if (format === 'verbose_json') {
      return reply(200, { task: 'transcribe', language: (body.get('language') as string | null) ?? 'english', duration, text, segments: [] });
    }
    return reply(200, { text, usage: { type: 'duration', seconds: Math.ceil(duration) } });
  }

  return {
    baseURL: `http://127.0.0.1:${server.port}/v1`,
    requests: log.entries,
    requestsFor: (endpoint) => log.for(endpoint),
    knobs: <E extends OpenAIEndpoint>(endpoint: E) => (knobs[endpoint] as KnobStore<OpenAIKnobs[E]>).current,
    setKnobs: (endpoint, patch) => (knobs[endpoint] as KnobStore<FaultKnobs>).set(patch),
    setConnectMs: (ms) => {
      connectMs = ms;
    },
    connectionsOpenedBy: () => openedBy,
    close: () => server.close(),
  };
}

const ENDPOINTS: Record<string, OpenAIEndpoint | 'models' | undefined> = {
  'POST /v1/chat/completions': 'chat',
  'POST /v1/audio/speech': 'speech',
  'POST /v1/audio/transcriptions': 'transcriptions',
  'GET /v1/models': 'models',
};

function oaiError(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return raw.toString('utf8');
  }
}

/** Multipart parsing by the platform's own `Request.formData()`: no parser dependency. */
async function parseMultipart(req: IncomingMessage, raw: Buffer): Promise<FormData | undefined> {
  try {
    return await new Request('http://fake/', { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body: new Uint8Array(raw) }).formData();
  } catch {
    return undefined;
  }
}

/** Multipart fields for the request log; files as `{ filename, type, size }`. */
function describeForm(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of form.entries()) {
    out[key] = typeof value === 'string' ? value : { filename: value.name, type: value.type, size: value.size };
  }
  return out;
}

export function messageText(message: ChatMessage): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => part.text ?? '').join('');
  return '';
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') return messageText(messages[i]!);
  return '';
}

/** Roughly four characters per token, as OpenAI's rule of thumb. */
function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

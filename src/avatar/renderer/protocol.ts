/**
 * The renderer protocol, version 1 (docs/renderer-protocol.md): one websocket per avatar session
 * between the worker and a GPU renderer. JSON text messages for control, binary messages with a
 * fixed 24-byte header for audio, blendshapes and frames. Every constant and shape of the wire
 * lives here, shared by the worker's client, the reference renderer and the test fakes.
 */
import { z } from 'zod';

export const RENDERER_PROTOCOL_VERSION = 1;
/** Versions this side speaks, newest first; the renderer picks one in `ready`. */
export const SUPPORTED_PROTOCOL_VERSIONS = [1] as const;

// ---------------------------------------------------------------- binary messages

/** Binary message kinds (byte 0 of the header). */
export const BinaryKind = {
  /** Worker → renderer: PCM16 LE mono at `clockRate`. */
  audio: 1,
  /** Worker → renderer: float32 LE weights, one per name in `start.input.names`, for one video frame. */
  blendshapes: 2,
  /** Renderer → worker: one video frame in the session's format. */
  video: 16,
} as const;
export type BinaryKindName = keyof typeof BinaryKind;

/** Flag bits (byte 1). */
export const BinaryFlags = {
  /** A video frame of idle motion (not speech); its pts is meaningless and ignored. */
  idle: 1,
} as const;

export const HEADER_BYTES = 24;

/**
 * The fixed header, little-endian (Python: `struct.Struct('<BBHIIIQ')`):
 *   u8 kind · u8 flags · u16 header bytes (24) · u32 seq · u32 segment · u32 payload bytes · u64 pts
 * `pts` is a position on the audio clock in samples at `clockRate` (the first sample for audio,
 * the sample the frame's mouth belongs to for blendshapes and video). `segment` is the reply the
 * message belongs to (1, 2, …; 0 for idle frames). `seq` counts that sender's binary messages.
 */
export interface BinaryHeader {
  kind: number;
  flags: number;
  seq: number;
  segment: number;
  pts: number;
}

export function encodeBinary(header: BinaryHeader, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  out.writeUInt8(header.kind, 0);
  out.writeUInt8(header.flags, 1);
  out.writeUInt16LE(HEADER_BYTES, 2);
  out.writeUInt32LE(header.seq >>> 0, 4);
  out.writeUInt32LE(header.segment >>> 0, 8);
  out.writeUInt32LE(payload.byteLength, 12);
  out.writeBigUInt64LE(BigInt(header.pts), 16);
  out.set(payload, HEADER_BYTES);
  return out;
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Splits a binary message; checks the header and the length it declares (payload caps are the caller's, per kind). */
export function decodeBinary(data: Uint8Array): { header: BinaryHeader; payload: Uint8Array } {
  if (data.byteLength < HEADER_BYTES) {
    throw new ProtocolError('bad_message', `binary message of ${data.byteLength} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const headerBytes = buf.readUInt16LE(2);
  if (headerBytes !== HEADER_BYTES) {
    throw new ProtocolError('bad_message', `binary header declares ${headerBytes} bytes; protocol v1 headers are ${HEADER_BYTES}`);
  }
  const payloadBytes = buf.readUInt32LE(12);
  if (payloadBytes !== buf.byteLength - HEADER_BYTES) {
    throw new ProtocolError('bad_message', `binary header declares a ${payloadBytes}-byte payload but ${buf.byteLength - HEADER_BYTES} bytes followed`);
  }
  const pts = buf.readBigUInt64LE(16);
  if (pts > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('bad_message', `pts ${pts} is out of range`);
  return {
    header: { kind: buf.readUInt8(0), flags: buf.readUInt8(1), seq: buf.readUInt32LE(4), segment: buf.readUInt32LE(8), pts: Number(pts) },
    payload: buf.subarray(HEADER_BYTES),
  };
}

// ---------------------------------------------------------------- sizes

export type FrameFormat = 'jpeg' | 'i420' | 'rgba';

/** Exact payload size of a raw frame; JPEG may use up to an RGBA frame's size. */
export function framePayloadLimit(format: FrameFormat, width: number, height: number): { exact: boolean; bytes: number } {
  if (format === 'rgba') return { exact: true, bytes: width * height * 4 };
  if (format === 'i420') return { exact: true, bytes: width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2) };
  return { exact: false, bytes: width * height * 4 };
}

/** Longest audio message: one second. */
export function audioPayloadLimit(clockRate: number): number {
  return clockRate * 2;
}

/** Text messages are small, except `start`, which may carry a reference image inline. */
export const MAX_TEXT_BYTES = 64 * 1024;
export const MAX_START_BYTES = 8 * 1024 * 1024;
export const MAX_INLINE_IMAGE_BYTES = 4 * 1024 * 1024;

/** The websocket's own message cap for a session: the biggest frame plus its header, at least a start message. */
export function maxMessageBytes(video: { width: number; height: number }): number {
  return Math.max(MAX_START_BYTES, video.width * video.height * 4 + HEADER_BYTES);
}

// ---------------------------------------------------------------- JSON messages

export const errorCodes = ['unauthorized', 'unsupported_version', 'bad_message', 'bad_start', 'unknown_avatar', 'busy', 'overflow', 'internal'] as const;
export type ErrorCode = (typeof errorCodes)[number];

const id = z.string().min(1).max(200);
const count = z.number().int().min(0);
const segmentId = z.number().int().min(1).max(0xffff_ffff);

export const videoSpecSchema = z
  .object({
    width: z.number().int().min(16).max(4096),
    height: z.number().int().min(16).max(4096),
    fps: z.number().int().min(1).max(120),
    format: z.enum(['jpeg', 'i420', 'rgba']),
  })
  .strict();
export type VideoSpec = z.infer<typeof videoSpecSchema>;

export const inputSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('audio'), encoding: z.literal('pcm_s16le'), channels: z.literal(1) }).strict(),
  z.object({ kind: z.literal('blendshapes'), names: z.array(z.string().min(1).max(64)).min(1).max(128) }).strict(),
]);
export type InputSpec = z.infer<typeof inputSpecSchema>;

export const startSchema = z
  .object({
    type: z.literal('start'),
    /** Protocol versions the worker speaks. */
    versions: z.array(z.number().int().min(1)).min(1).max(16),
    /** An id for logs on both sides; not a secret. */
    session: id,
    avatar: z
      .object({
        id: id.optional(),
        imageUrl: z.string().regex(/^https?:\/\//).max(2000).optional(),
        image: z.object({ mime: z.enum(['image/jpeg', 'image/png', 'image/webp']), base64: z.string().min(1) }).strict().optional(),
      })
      .strict()
      .refine((a) => Boolean(a.id || a.imageUrl || a.image), { error: 'needs id, imageUrl or image' }),
    video: videoSpecSchema,
    /** Rate of the audio clock that every pts counts in (the audio's sample rate for audio input). */
    clockRate: z.union([z.literal(16000), z.literal(24000), z.literal(48000)]),
    input: inputSpecSchema,
    idle: z.enum(['stream', 'still']),
    /** Frames the renderer may send before the worker grants more. */
    frameCredits: z.number().int().min(1).max(1000),
  })
  .strict();
export type StartMessage = z.infer<typeof startSchema>;

export const readySchema = z
  .object({
    type: z.literal('ready'),
    version: z.number().int().min(1),
    video: videoSpecSchema,
    /** Audio-clock milliseconds of input the worker may send before the renderer grants more. */
    inputCreditMs: z.number().int().min(40).max(60_000),
    renderer: z.object({ name: z.string().max(200), model: z.string().max(200).optional() }).strict().optional(),
  })
  .strict();
export type ReadyMessage = z.infer<typeof readySchema>;

const errorSchema = z
  .object({
    type: z.literal('error'),
    code: z.enum(errorCodes),
    message: z.string().max(2000),
    /** The sender is closing the session after this. */
    fatal: z.boolean().default(false),
  })
  .strict();
export type ErrorMessage = z.infer<typeof errorSchema>;

const pingSchema = z.object({ type: z.literal('ping'), id: count }).strict();
const pongSchema = z.object({ type: z.literal('pong'), id: count }).strict();

export const workerMessageSchema = z.discriminatedUnion('type', [
  startSchema,
  z.object({ type: z.literal('segment_end'), segment: segmentId }).strict(),
  z.object({ type: z.literal('interrupt'), segment: segmentId }).strict(),
  z.object({ type: z.literal('frame_credit'), frames: z.number().int().min(1).max(1000) }).strict(),
  pingSchema,
  pongSchema,
  errorSchema,
]);
export type WorkerMessage = z.input<typeof workerMessageSchema>;
export type ParsedWorkerMessage = z.infer<typeof workerMessageSchema>;

export const rendererMessageSchema = z.discriminatedUnion('type', [
  readySchema,
  z.object({ type: z.literal('input_credit'), ms: z.number().int().min(1).max(60_000) }).strict(),
  z.object({ type: z.literal('segment_done'), segment: segmentId, frames: count }).strict(),
  pingSchema,
  pongSchema,
  errorSchema,
]);
export type RendererMessage = z.input<typeof rendererMessageSchema>;
export type ParsedRendererMessage = z.infer<typeof rendererMessageSchema>;

const WORKER_TYPES = ['start', 'segment_end', 'interrupt', 'frame_credit', 'ping', 'pong', 'error'];
const RENDERER_TYPES = ['ready', 'input_credit', 'segment_done', 'ping', 'pong', 'error'];

/** A renderer → worker text message, validated; throws ProtocolError naming the field and the fix. */
export function parseRendererMessage(text: string): ParsedRendererMessage {
  return parseMessage(text, rendererMessageSchema, RENDERER_TYPES, 'renderer', MAX_TEXT_BYTES) as ParsedRendererMessage;
}

/** A worker → renderer text message, validated; throws ProtocolError naming the field and the fix. */
export function parseWorkerMessage(text: string): ParsedWorkerMessage {
  return parseMessage(text, workerMessageSchema, WORKER_TYPES, 'worker', MAX_START_BYTES) as ParsedWorkerMessage;
}

function parseMessage(text: string, schema: z.ZodType, known: string[], from: string, maxBytes: number): unknown {
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new ProtocolError('bad_message', `${from} sent a ${bytes}-byte text message; the limit is ${maxBytes}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad_message', `${from} sent a text message that is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !known.includes(type)) {
    throw new ProtocolError(
      'bad_message',
      `${from} sent an unknown message type ${JSON.stringify(type ?? null)}; protocol v${RENDERER_PROTOCOL_VERSION} ${from} messages are: ${known.join(', ')}`,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = [type, ...issue.path.map(String)].join('.');
    throw new ProtocolError(type === 'start' ? 'bad_start' : 'bad_message', `${from} sent an invalid ${type} message: ${where}: ${issue.message}`);
  }
  return parsed.data;
}

import { EventEmitter } from 'node:events';
import { AudioFrame, RpcError, type ByteStreamReader, type Room, type RpcInvocationData } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import {
  AUDIO_STREAM_TOPIC,
  audioStreamAttributesSchema,
  clearBufferPayloadSchema,
  playbackFinishedPayload,
  RPC_CLEAR_BUFFER,
  RPC_PLAYBACK_FINISHED,
  RPC_PLAYBACK_STARTED,
} from './protocol.js';

/** One speech segment as it arrives: one `lk.audio_stream` byte stream. */
export interface ReceivedSegmentInfo {
  /** The byte stream's id. */
  id: string;
  /** Identity of the participant that opened the stream (the agent); playback RPCs go back to it. */
  sender: string;
  sampleRate: number;
  channels: number;
  /** Every attribute of the stream, as sent. */
  attributes: Record<string, string>;
  /** Date.now() when the stream opened. */
  openedAt: number;
}

export interface SegmentEndInfo extends ReceivedSegmentInfo {
  /** Date.now() when the stream closed (or was cut). */
  endedAt: number;
  /** PCM bytes received (all channels). */
  bytes: number;
  /** Seconds of audio received. */
  durationS: number;
  /**
   * The agent interrupted it (`lk.clear_buffer`) while it was still arriving, or before it began:
   * the rest was dropped. Its end follows the `clear` event.
   */
  cleared: boolean;
  /** Set when the stream broke off (the sender left, it grew past the cap) instead of closing. */
  error?: string;
}

export interface ClearInfo {
  callerIdentity: string;
  at: number;
  /** The segment that was still arriving when the clear came, if any (its end follows, `cleared`). */
  arriving?: ReceivedSegmentInfo;
}

export interface RejectedStream {
  sender: string;
  streamId: string;
  /** `sender`: not the agent this avatar serves; `attributes`: sample_rate / num_channels missing or wrong. */
  kind: 'sender' | 'attributes';
  reason: string;
}

export interface DataStreamReceiverEvents {
  segmentStart: [ReceivedSegmentInfo];
  /** Fixed-length frames (`frameMs`), interleaved PCM16; a segment's last frame may be shorter. */
  frame: [AudioFrame, ReceivedSegmentInfo];
  segmentEnd: [SegmentEndInfo];
  clear: [ClearInfo];
  rejected: [RejectedStream];
}

export interface DataStreamReceiverOptions {
  /** A connected room; the receiver joins nothing itself. */
  room: Room;
  logger: Logger;
  /**
   * Accept speech and clears only from this identity (the agent this avatar speaks for: the
   * `lk.publish_on_behalf` attribute of its token). Unset: any participant.
   */
  senderIdentity?: string;
  /** Length of the frames handed on. Default 20 ms. */
  frameMs?: number;
  /** A segment longer than this is cut (a runaway sender must not fill memory). Default 600 s. */
  maxSegmentS?: number;
  /** Attempts per playback RPC, with a doubling pause between them. Default 3, from 100 ms. */
  rpcAttempts?: number;
  rpcRetryDelayMs?: number;
  /** How long the agent may take to answer one playback RPC. Default 5000 ms. */
  rpcTimeoutMs?: number;
}

/** RPC failures a retry cannot mend: the agent does not handle the method, or refused it. */
const FINAL_RPC_ERRORS = new Set<number>([
  RpcError.ErrorCode.UNSUPPORTED_METHOD,
  RpcError.ErrorCode.APPLICATION_ERROR,
  RpcError.ErrorCode.REQUEST_PAYLOAD_TOO_LARGE,
  RpcError.ErrorCode.UNSUPPORTED_SERVER,
]);

/**
 * The avatar's end of LiveKit's DataStream avatar protocol (see protocol.ts), given a room that is
 * already connected: agents-js has only the sending side. It turns each `lk.audio_stream` byte
 * stream into segmentStart, fixed-length frames, segmentEnd; turns `lk.clear_buffer` into a clear
 * (the rest of a segment still arriving is dropped); and sends the agent `lk.playback_started` /
 * `lk.playback_finished` for whoever plays the audio out, since only the player knows when.
 *
 * Streams are taken one at a time, in the order they opened: a segment that opens while the
 * previous one is still arriving waits its turn, so frames never interleave.
 */
export class DataStreamAudioReceiver extends EventEmitter<DataStreamReceiverEvents> {
  private readonly room: Room;
  private readonly log: Logger;
  private readonly senderIdentity: string | undefined;
  private readonly frameMs: number;
  private readonly maxSegmentS: number;
  private readonly rpcAttempts: number;
  private readonly rpcRetryDelayMs: number;
  private readonly rpcTimeoutMs: number;
  /** Streams are consumed in turn on this chain. */
  private queue: Promise<void> = Promise.resolve();
  /** Bumped by every clear: segments opened before it are dropped. */
  private generation = 0;
  private arriving: ReceivedSegmentInfo | undefined;
  private lastSender: string | undefined;
  private started = false;
  private closed = false;
  private readonly openReaders = new Set<ByteStreamReader>();

  constructor(opts: DataStreamReceiverOptions) {
    super();
    this.room = opts.room;
    this.log = opts.logger;
    this.senderIdentity = opts.senderIdentity;
    this.frameMs = opts.frameMs ?? 20;
    this.maxSegmentS = opts.maxSegmentS ?? 600;
    this.rpcAttempts = Math.max(1, opts.rpcAttempts ?? 3);
    this.rpcRetryDelayMs = opts.rpcRetryDelayMs ?? 100;
    this.rpcTimeoutMs = opts.rpcTimeoutMs ?? 5_000;
  }

  /** Registers the byte-stream handler and the clear RPC; throws if another receiver holds the topic. */
  start(): void {
    if (this.started) return;
    const participant = this.room.localParticipant;
    if (!participant || !this.room.isConnected) throw new Error('DataStreamAudioReceiver needs a connected room; connect it before start()');
    try {
      this.room.registerByteStreamHandler(AUDIO_STREAM_TOPIC, (reader, from) => this.onStream(reader, from.identity));
    } catch (err) {
      throw new Error(`cannot receive avatar speech: ${(err as Error).message} (one DataStreamAudioReceiver per room)`);
    }
    participant.registerRpcMethod(RPC_CLEAR_BUFFER, (data) => this.onClearBuffer(data));
    this.started = true;
  }

  /** The participant playback RPCs go to: the configured sender, else whoever sent the last segment. */
  get agentIdentity(): string | undefined {
    return this.senderIdentity ?? this.lastSender;
  }

  /** Tells the agent the first audio of a segment is being heard. Resolves false if it could not. */
  notifyPlaybackStarted(): Promise<boolean> {
    return this.callAgent(RPC_PLAYBACK_STARTED, '');
  }

  /**
   * Tells the agent a segment ended: `position` seconds of it were heard, and whether it was cut
   * short. Resolves false if the agent could not be told (its turn may then stall: agents-js 1.9
   * has no timeout on waitForPlayout).
   */
  notifyPlaybackFinished(position: number, interrupted: boolean): Promise<boolean> {
    return this.callAgent(RPC_PLAYBACK_FINISHED, playbackFinishedPayload(position, interrupted));
  }

  /** Stops receiving: unregisters, drops what is arriving (no further events) and waits for it to wind down. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    if (this.started) {
      this.room.unregisterByteStreamHandler(AUDIO_STREAM_TOPIC);
      this.room.localParticipant?.unregisterRpcMethod(RPC_CLEAR_BUFFER);
    }
    for (const reader of this.openReaders) await reader.close().catch(() => undefined);
    await this.queue;
  }

  private onStream(reader: ByteStreamReader, sender: string): void {
    const info = reader.info;
    const reject = (kind: RejectedStream['kind'], reason: string) => {
      this.log.warn({ sender, streamId: info.streamId, topic: info.topic }, `rejected ${AUDIO_STREAM_TOPIC} stream from ${sender}: ${reason}`);
      this.emit('rejected', { sender, streamId: info.streamId, kind, reason });
      void reader.close().catch(() => undefined);
    };
    if (this.closed) return void reader.close().catch(() => undefined);
    if (this.senderIdentity !== undefined && sender !== this.senderIdentity) {
      return reject('sender', `only ${this.senderIdentity} (the agent this avatar speaks for) may send speech`);
    }
    const parsed = audioStreamAttributesSchema.safeParse(info.attributes ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return reject('attributes', `attribute ${issue.path.join('.') || '(attributes)'} ${issue.message}`);
    }
    const segment: ReceivedSegmentInfo = {
      id: info.streamId,
      sender,
      sampleRate: parsed.data.sample_rate,
      channels: parsed.data.num_channels,
      attributes: { ...(info.attributes ?? {}) },
      openedAt: Date.now(),
    };
    const generation = this.generation;
    this.openReaders.add(reader);
    this.queue = this.queue
      .then(() => this.consume(reader, segment, generation))
      .catch((err: unknown) => this.log.error({ err, streamId: segment.id }, 'avatar speech stream failed'))
      .finally(() => this.openReaders.delete(reader));
  }

  private async consume(reader: ByteStreamReader, segment: ReceivedSegmentInfo, generation: number): Promise<void> {
    if (generation !== this.generation) {
      // Cleared while it waited behind another segment: the agent no longer wants it, but it
      // counted it, so it still starts and ends (cleared, empty) for whoever reports playback.
      this.log.debug({ streamId: segment.id }, 'dropped a speech segment cleared before it started');
      await reader.close().catch(() => undefined);
      if (this.closed) return;
      this.emit('segmentStart', segment);
      this.emit('segmentEnd', { ...segment, endedAt: Date.now(), bytes: 0, durationS: 0, cleared: true });
      return;
    }
    this.lastSender = segment.sender;
    this.arriving = segment;
    this.emit('segmentStart', segment);
    const bytesPerFrame = Math.max(1, Math.round((segment.sampleRate * this.frameMs) / 1000)) * segment.channels * 2;
    const maxBytes = Math.round(this.maxSegmentS * segment.sampleRate) * segment.channels * 2;
    // Chunk boundaries need not fall on samples, let alone frames: carry the remainder over.
    let pending = new Uint8Array(0);
    let bytes = 0;
    let cleared = false;
    let error: string | undefined;
    const emitFrames = (data: Uint8Array, final: boolean): Uint8Array => {
      let offset = 0;
      while (data.length - offset >= bytesPerFrame || (final && data.length - offset >= 2 * segment.channels)) {
        const take = Math.min(bytesPerFrame, data.length - offset);
        const usable = take - (take % (2 * segment.channels));
        // Copied into its own aligned buffer: Int16Array needs 2-byte alignment and listeners may keep it.
        const pcm = new Int16Array(usable / 2);
        new Uint8Array(pcm.buffer).set(data.subarray(offset, offset + usable));
        this.emit('frame', new AudioFrame(pcm, segment.sampleRate, segment.channels, pcm.length / segment.channels), segment);
        offset += usable;
        if (generation !== this.generation) return new Uint8Array(0);
      }
      return data.subarray(offset);
    };
    try {
      for await (const chunk of reader) {
        if (generation !== this.generation) {
          cleared = !this.closed;
          break;
        }
        bytes += chunk.length;
        if (bytes > maxBytes) {
          error = `segment longer than ${this.maxSegmentS} s; the rest was dropped`;
          this.log.warn({ streamId: segment.id, sender: segment.sender }, `avatar speech ${error}`);
          break;
        }
        const joined = pending.length ? concat(pending, chunk) : chunk;
        pending = emitFrames(joined, false).slice();
        if (generation !== this.generation) {
          cleared = !this.closed;
          break;
        }
      }
      if (!cleared && !error && generation === this.generation) emitFrames(pending, true);
      else if (generation !== this.generation) cleared = !this.closed;
    } catch (err) {
      error = (err as Error).message || 'stream broke off';
      this.log.warn({ streamId: segment.id, sender: segment.sender, err }, 'avatar speech stream broke off');
    } finally {
      this.arriving = undefined;
      await reader.close().catch(() => undefined);
    }
    if (this.closed) return;
    const durationS = bytes / (2 * segment.channels * segment.sampleRate);
    this.emit('segmentEnd', { ...segment, endedAt: Date.now(), bytes, durationS, cleared, ...(error !== undefined ? { error } : {}) });
  }

  private async onClearBuffer(data: RpcInvocationData): Promise<string> {
    if (this.senderIdentity !== undefined && data.callerIdentity !== this.senderIdentity) {
      this.log.warn({ caller: data.callerIdentity }, `ignored ${RPC_CLEAR_BUFFER} from ${data.callerIdentity}: only ${this.senderIdentity} may interrupt this avatar`);
      throw new RpcError(RpcError.ErrorCode.APPLICATION_ERROR, `only ${this.senderIdentity} may clear this avatar's buffer`);
    }
    const payload = clearBufferPayloadSchema.safeParse(data.payload);
    if (!payload.success) {
      this.log.warn({ caller: data.callerIdentity, bytes: data.payload.length }, `rejected ${RPC_CLEAR_BUFFER}: ${payload.error.issues[0]!.message}`);
      throw new RpcError(RpcError.ErrorCode.APPLICATION_ERROR, payload.error.issues[0]!.message);
    }
    this.generation++;
    const info: ClearInfo = { callerIdentity: data.callerIdentity, at: Date.now(), ...(this.arriving ? { arriving: this.arriving } : {}) };
    this.log.debug({ caller: data.callerIdentity, arriving: this.arriving?.id }, 'avatar speech cleared');
    this.emit('clear', info);
    return 'ok';
  }

  private async callAgent(method: string, payload: string): Promise<boolean> {
    const destination = this.agentIdentity;
    if (!destination) {
      this.log.debug({ method }, `no agent to send ${method} to yet`);
      return false;
    }
    let delay = this.rpcRetryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const participant = this.room.localParticipant;
      if (this.closed || !participant || !this.room.isConnected) return false;
      try {
        const reply = await participant.performRpc({ destinationIdentity: destination, method, payload, responseTimeout: this.rpcTimeoutMs });
        if (reply !== 'ok') this.log.warn({ method, destination, reply }, `${destination} answered ${method} with ${JSON.stringify(reply.slice(0, 100))}`);
        return reply === 'ok';
      } catch (err) {
        const code = err instanceof RpcError && typeof err.code === 'number' ? err.code : undefined;
        const final = code !== undefined && FINAL_RPC_ERRORS.has(code);
        if (final || attempt >= this.rpcAttempts) {
          // playback_started is optional for the agent (agents registers it only with waitPlaybackStart).
          const quiet = method === RPC_PLAYBACK_STARTED && code === RpcError.ErrorCode.UNSUPPORTED_METHOD;
          this.log[quiet ? 'debug' : 'warn'](
            { method, destination, code, attempts: attempt, err: (err as Error).message },
            `could not send ${method} to ${destination}: ${(err as Error).message}`,
          );
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

import { AudioFrame, type ByteStreamReader, type Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import { decodePreConnectAudio } from './decode.js';
import { DEFAULT_PRE_CONNECT_LIMITS, PRE_CONNECT_AUDIO_TOPIC, preConnectAttributesSchema, TF_PRECONNECT_BUFFER, type PreConnectLimits } from './protocol.js';

/** What a finished stream became: audio to play first, or the reason it was refused. */
type Outcome = { frames: AudioFrame[]; durationMs: number; finishedAt: number } | { refused: string };

interface Pending {
  identity: string;
  trackId: string;
  outcome: Promise<Outcome>;
}

export interface PreConnectReceiverOptions {
  logger: Logger;
  limits?: Partial<PreConnectLimits>;
  /** The participant the session listens to, once linked; a buffer from anyone else is refused. */
  linkedIdentity?: () => string | undefined;
}

/**
 * Receives pre-connect audio buffers (see protocol.ts) in a job's room and hands each one, once,
 * to the session's input when that user's microphone track reaches it. Every refusal (malformed
 * attributes, another participant's buffer, too large, too long, too slow, stale) is one log line
 * and the call goes on without it.
 */
export class PreConnectAudioReceiver {
  readonly limits: PreConnectLimits;
  readonly #room: Room;
  readonly #logger: Logger;
  readonly #linked: () => string | undefined;
  readonly #pending = new Map<string, Pending>();
  readonly #arrivals = new Set<() => void>();
  /** Tracks whose microphone has reached the session, and when: a buffer for one arriving now is too late. */
  readonly #live = new Map<string, number>();
  #registered = false;

  constructor(room: Room, options: PreConnectReceiverOptions) {
    this.#room = room;
    this.#logger = options.logger;
    this.#linked = options.linkedIdentity ?? (() => undefined);
    this.limits = { ...DEFAULT_PRE_CONNECT_LIMITS, ...options.limits };
  }

  register(): void {
    if (this.#registered) return;
    this.#room.registerByteStreamHandler(PRE_CONNECT_AUDIO_TOPIC, (reader, { identity }) => this.#receive(reader, identity));
    this.#registered = true;
  }

  /** Who has a buffer waiting to be handed over (for logs and tests). */
  get waiting(): string[] {
    return [...this.#pending.values()].map((p) => p.identity);
  }

  close(): void {
    if (this.#registered) this.#room.unregisterByteStreamHandler(PRE_CONNECT_AUDIO_TOPIC);
    this.#registered = false;
    this.#pending.clear();
    this.#live.clear();
  }

  /**
   * The audio `identity` recorded on `trackId` before the agent was there, to play before the live
   * microphone; empty when there is none (after waiting for one to start: `announcedWaitMs` when
   * the publication announces a buffer, else `headerGraceMs`).
   */
  async framesFor(identity: string, trackId: string): Promise<AudioFrame[]> {
    for (const [id, other] of this.#pending) {
      if (other.identity === identity) continue;
      this.#pending.delete(id);
      this.#logger.warn(`pre-connect audio from ${other.identity} ignored: the agent listens to ${identity}; the call goes on`);
    }
    // A buffer is played once, before the first stream of the track: a stream reopened later (a
    // resubscription) does not wait again.
    if (this.#live.has(trackId) && !this.#pending.has(trackId)) return [];
    const announced = this.#announces(identity, trackId);
    const waitMs = announced ? this.limits.announcedWaitMs : this.limits.headerGraceMs;
    const since = Date.now();
    const pending = this.#pending.get(trackId) ?? (await this.#arrival(trackId, waitMs));
    this.#live.set(trackId, Date.now());
    if (!pending) {
      if (announced) this.#logger.warn({ participant: identity, trackId }, `no pre-connect audio from ${identity} within ${waitMs / 1000} s though their microphone announced one; the live microphone goes on`);
      return [];
    }
    this.#pending.delete(trackId);
    if (pending.identity !== identity) {
      this.#logger.warn(`pre-connect audio from ${pending.identity} ignored: the agent listens to ${identity}; the call goes on`);
      return [];
    }
    const outcome = await pending.outcome;
    if ('refused' in outcome) return [];
    const age = Date.now() - outcome.finishedAt;
    if (age > this.limits.maxAgeMs) {
      this.#logger.warn(`pre-connect audio from ${identity} ignored: finished ${(age / 1000).toFixed(1)} s before the microphone reached the session (limit ${this.limits.maxAgeMs / 1000} s); the call goes on`);
      return [];
    }
    // heldMs: how long the live microphone waited for the buffer to begin and finish.
    this.#logger.info({ participant: identity, trackId, durationMs: Math.round(outcome.durationMs), heldMs: Date.now() - since }, `playing ${(outcome.durationMs / 1000).toFixed(1)} s of audio ${identity} said before the agent joined`);
    return outcome.frames;
  }

  /** Whether `identity`'s publication of `trackId` says a pre-connect buffer is coming (TF_PRECONNECT_BUFFER). */
  #announces(identity: string, trackId: string): boolean {
    const features: readonly number[] | undefined = this.#room.remoteParticipants.get(identity)?.trackPublications.get(trackId)?.info?.audioFeatures;
    return features?.includes(TF_PRECONNECT_BUFFER) ?? false;
  }

  #arrival(trackId: string, waitMs: number): Promise<Pending | undefined> {
    return new Promise((resolve) => {
      const wake = () => {
        const found = this.#pending.get(trackId);
        if (found) finish(found);
      };
      const finish = (found: Pending | undefined) => {
        clearTimeout(timer);
        this.#arrivals.delete(wake);
        resolve(found);
      };
      const timer = setTimeout(() => finish(this.#pending.get(trackId)), waitMs);
      this.#arrivals.add(wake);
    });
  }

  #receive(reader: ByteStreamReader, identity: string): void {
    const refuse = (reason: string): Outcome => {
      this.#logger.warn({ participant: identity }, `pre-connect audio from ${identity} ignored: ${reason}; the call goes on`);
      return { refused: reason };
    };
    const attrs = preConnectAttributesSchema.safeParse(reader.info.attributes ?? {});
    if (!attrs.success) {
      refuse(`bad stream attributes (${attrs.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; ')})`);
      void drain(reader, this.limits.readTimeoutMs);
      return;
    }
    const { trackId, sampleRate, channels } = attrs.data;
    const sender = this.#room.remoteParticipants.get(identity);
    const linked = this.#linked();
    if (linked && linked !== identity) {
      refuse(`the agent listens to ${linked}`);
      void drain(reader, this.limits.readTimeoutMs);
      return;
    }
    if (!sender || !sender.trackPublications.has(trackId)) {
      refuse(`it names track ${trackId}, which ${identity} does not publish`);
      void drain(reader, this.limits.readTimeoutMs);
      return;
    }
    const outcome = this.#read(reader, identity, sampleRate, channels).then(
      (out) => ('refused' in out ? refuse(out.refused) : out),
      (err: unknown) => refuse(err instanceof Error ? err.message : String(err)),
    );
    const receivedAt = Date.now();
    const entry: Pending = { identity, trackId, outcome };
    this.#pending.set(trackId, entry);
    for (const wake of [...this.#arrivals]) wake();
    // Nobody took it: the microphone was already live. Said once, and not kept.
    void outcome.then((out) => {
      const liveSince = this.#live.get(trackId);
      if (liveSince === undefined || this.#pending.get(trackId) !== entry) return;
      this.#pending.delete(trackId);
      if (!('refused' in out)) {
        refuse(`it began ${(Math.max(0, receivedAt - liveSince) / 1000).toFixed(1)} s after the microphone reached the session, whose live audio was already heard`);
      }
    });
  }

  async #read(reader: ByteStreamReader, identity: string, sampleRate: number, channels: number): Promise<Outcome> {
    const { maxBytes, readTimeoutMs, maxDurationMs } = this.limits;
    if (reader.info.totalSize !== undefined && reader.info.totalSize > maxBytes) {
      void drain(reader, readTimeoutMs);
      return { refused: `${reader.info.totalSize} bytes is over the ${maxBytes}-byte limit` };
    }
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    const iterator = reader[Symbol.asyncIterator]();
    const deadline = Date.now() + readTimeoutMs;
    for (;;) {
      const next = await raceDeadline(iterator.next(), deadline);
      if (next === 'timeout') {
        void iterator.return();
        return { refused: `the stream did not finish within ${readTimeoutMs / 1000} s` };
      }
      if (next.done) break;
      bytes += next.value.byteLength;
      if (bytes > maxBytes) {
        // Keep reading (and dropping) so the sender's stream ends cleanly, within the same deadline.
        void drainIterator(iterator, deadline);
        return { refused: `over the ${maxBytes}-byte limit` };
      }
      chunks.push(next.value);
    }
    const payload = new Uint8Array(bytes);
    let at = 0;
    for (const c of chunks) {
      payload.set(c, at);
      at += c.byteLength;
    }
    const pcm = await decodePreConnectAudio(payload, reader.info.mimeType, sampleRate, channels);
    const durationMs = (pcm.length / sampleRate) * 1000;
    if (durationMs > maxDurationMs) return { refused: `${(durationMs / 1000).toFixed(1)} s of audio is over the ${maxDurationMs / 1000} s limit` };
    this.#logger.debug({ participant: identity, bytes, durationMs: Math.round(durationMs) }, `pre-connect audio from ${identity} received: ${(durationMs / 1000).toFixed(1)} s`);
    return { frames: toFrames(pcm, sampleRate), durationMs, finishedAt: Date.now() };
  }
}

/** 20 ms mono frames, the size the live microphone stream delivers in. */
function toFrames(pcm: Int16Array, sampleRate: number): AudioFrame[] {
  const size = Math.round(sampleRate / 50);
  const frames: AudioFrame[] = [];
  for (let at = 0; at < pcm.length; at += size) {
    const data = pcm.slice(at, Math.min(at + size, pcm.length));
    frames.push(new AudioFrame(data, sampleRate, 1, data.length));
  }
  return frames;
}

function raceDeadline<T>(p: Promise<T>, deadline: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function drainIterator(iterator: AsyncIterator<Uint8Array>, deadline: number): Promise<void> {
  for (;;) {
    const next = await raceDeadline(iterator.next(), deadline).catch(() => ({ done: true }) as const);
    if (next === 'timeout' || next.done) break;
  }
  await iterator.return?.().catch(() => undefined);
}

/** A refused stream is still read to its end (bounded), so its chunks do not pile up unread. */
function drain(reader: ByteStreamReader, timeoutMs: number): Promise<void> {
  return drainIterator(reader[Symbol.asyncIterator](), Date.now() + timeoutMs);
}

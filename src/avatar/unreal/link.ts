/**
 * Keeps one Pixel Streaming connection to Unreal alive for the length of a call: the first
 * connect is a single bounded attempt (attach must answer quickly so the registry can fall back);
 * after a loss it retries with backoff, and when the retries are spent `lost` resolves with the
 * reason. Frames, data and the microphone survive reconnects: listeners attach here, not to a
 * connection.
 */
import { EventEmitter } from 'node:events';
import wrtc from '@roamhq/wrtc';
import type { Logger } from 'pino';
import { PixelStreamingConnection } from './connection.js';
import { encodeUIInteraction } from './data-channel.js';
import type { I420Frame, TransportDelay } from './player-peer.js';
import type { UnrealProfile } from './profiles.js';

const { RTCAudioSource } = wrtc.nonstandard;

export interface LinkEvents {
  frame: [frame: I420Frame, receivedAt: number];
  data: [Uint8Array];
  /** A connection (first or renewed) has its data channel open: per-connection setup goes here. */
  dataOpen: [];
  /** The connection dropped; a retry follows. */
  reconnecting: [reason: string];
  reconnected: [streamerId: string];
}

export type LinkSettings = Pick<
  UnrealProfile,
  'signallingUrl' | 'streamerId' | 'connectTimeoutMs' | 'stallTimeoutMs' | 'keepaliveMs' | 'reconnect' | 'initialUIInteraction'
>;

export class UnrealLink extends EventEmitter<LinkEvents> {
  /** Resolves once, with the reason, when the link is given up. Never rejects. */
  readonly lost: Promise<string>;
  private resolveLost!: (reason: string) => void;
  private readonly micSource = new RTCAudioSource();
  private connection: PixelStreamingConnection | undefined;
  private micTrack: MediaStreamTrack | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  private lastSize = { width: 0, height: 0 };

  constructor(
    private readonly settings: LinkSettings,
    private readonly log: Logger,
  ) {
    super();
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    const initial = settings.initialUIInteraction;
    // Per connection: a restarted Unreal needs it again.
    if (initial) this.on('dataOpen', () => this.send(encodeUIInteraction(initial)));
  }

  /** The size of the last frame from Unreal (the stream's resolution). */
  get frameSize(): { width: number; height: number } {
    return this.lastSize;
  }

  get connected(): boolean {
    return Boolean(this.connection && !this.connection.isClosed);
  }

  /** First connection; throws (a clear Error) if Unreal cannot be streamed now. */
  async start(): Promise<void> {
    this.adopt(await this.open());
  }

  /**
   * One 10 ms chunk (or any length) of mono PCM16 for Unreal's microphone input, sent now. Call it
   * in real time: WebRTC sends what it gets at once, and Unreal plays it as it arrives.
   */
  sendMic(pcm: Int16Array, sampleRate: number): void {
    if (!this.connected) return;
    this.micSource.onData({ samples: pcm, sampleRate, bitsPerSample: 16, channelCount: 1, numberOfFrames: pcm.length });
  }

  /** A data channel message; false when there is no open channel right now (it is dropped). */
  send(bytes: Uint8Array): boolean {
    return this.connection?.send(bytes) ?? false;
  }

  transportDelay(): Promise<TransportDelay> {
    return this.connection && !this.connection.isClosed ? this.connection.transportDelay() : Promise.resolve({});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.connection?.close();
    this.micTrack?.stop();
    // `lost` stays pending: closing on purpose is not a loss.
  }

  private async open(): Promise<PixelStreamingConnection> {
    const mic = this.micSource.createTrack();
    try {
      const connection = await PixelStreamingConnection.open({ ...this.settings, mic, logger: this.log, signal: this.abort.signal });
      this.micTrack?.stop();
      this.micTrack = mic;
      return connection;
    } catch (err) {
      mic.stop();
      throw err;
    }
  }

  private adopt(connection: PixelStreamingConnection): void {
    if (this.closed) {
      connection.close();
      return;
    }
    this.connection = connection;
    this.lastSize = connection.frameSize;
    connection.on('frame', (frame, at) => {
      this.lastSize = { width: frame.width, height: frame.height };
      this.emit('frame', frame, at);
    });
    connection.on('data', (bytes) => this.emit('data', bytes));
    connection.on('dataOpen', () => this.emit('dataOpen'));
    if (connection.dataOpen) queueMicrotask(() => this.emit('dataOpen'));
    connection.once('closed', (reason) => {
      if (!this.closed) void this.reconnect(reason);
    });
  }

  private async reconnect(reason: string): Promise<void> {
    const { attempts, delayMs, maxDelayMs } = this.settings.reconnect;
    this.log.warn({ reason, attempts }, 'Unreal stream lost; reconnecting');
    this.emit('reconnecting', reason);
    let last = reason;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      await sleep(Math.min(maxDelayMs, delayMs * 2 ** (attempt - 1)), this.abort.signal);
      if (this.closed) return;
      try {
        const connection = await this.open();
        this.adopt(connection);
        this.log.info({ attempt, streamer: connection.streamerId }, 'Unreal stream back');
        this.emit('reconnected', connection.streamerId);
        return;
      } catch (err) {
        last = (err as Error).message;
        this.log.warn({ attempt, of: attempts, reason: last }, 'Unreal reconnect failed');
      }
    }
    if (this.closed) return;
    this.resolveLost(
      attempts === 0 ? `Unreal stream lost: ${reason}` : `Unreal stream lost (${reason}); ${attempts} reconnect attempt${attempts === 1 ? '' : 's'} failed, the last with: ${last}`,
    );
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One player session with an Unreal streamer: signalling (config → listStreamers → subscribe →
 * offer/answer → ICE), then the WebRTC peer, watched until it ends. `open` resolves only once the
 * first video frame has arrived, so a resolved connection is one that really streams.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { PlayerPeer, type I420Frame, type TransportDelay } from './player-peer.js';
import { describeUrl, SignallingClient } from './signalling-client.js';
import type { ToPlayerMessage } from './signalling-messages.js';

export interface ConnectOptions {
  signallingUrl: string;
  /** Unreal's -PixelStreamingID; omitted: the only streamer on the server. */
  streamerId?: string;
  connectTimeoutMs: number;
  stallTimeoutMs: number;
  keepaliveMs: number;
  /** The track Unreal hears as this player's microphone. */
  mic: MediaStreamTrack;
  logger: Logger;
  signal?: AbortSignal;
}

export interface ConnectionEvents {
  frame: [frame: I420Frame, receivedAt: number];
  data: [Uint8Array];
  dataOpen: [];
  /** Once: the connection is over (streamer left, signalling lost, ICE failed, video stalled). */
  closed: [reason: string];
}

export class PixelStreamingConnection extends EventEmitter<ConnectionEvents> {
  /** The stream's resolution (of the first frame; Unreal may change it later). */
  frameSize = { width: 0, height: 0 };
  private lastFrameAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private closedReason: string | undefined;

  private constructor(
    readonly streamerId: string,
    private readonly signalling: SignallingClient,
    private readonly peer: PlayerPeer,
    private readonly stallTimeoutMs: number,
  ) {
    super();
  }

  /** Connects and waits for the first frame; throws an Error that names the failing step and its fix. */
  static async open(opts: ConnectOptions): Promise<PixelStreamingConnection> {
    const deadline = Date.now() + opts.connectTimeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const where = describeUrl(opts.signallingUrl);
    const log = opts.logger;
    const signalling = new SignallingClient(opts.signallingUrl, log, opts.keepaliveMs);
    let peer: PlayerPeer | undefined;
    try {
      const config = await signalling.connect(left(), opts.signal);
      signalling.send({ type: 'listStreamers' });
      const list = await signalling.next('streamerList', left(), `the streamer list from ${where}`);
      const streamerId = pickStreamer(list.ids, opts.streamerId, where);

      peer = new PlayerPeer((config.peerConnectionOptions?.iceServers ?? []) as RTCIceServer[], opts.mic, log);
      const p = peer;
      p.on('candidate', (candidate) => signalling.send({ type: 'iceCandidate', candidate }));
      const onMessage = (m: ToPlayerMessage) => {
        if (m.type === 'iceCandidate') void p.addRemoteCandidate(m.candidate);
      };
      signalling.on('message', onMessage);

      const firstFrame = new Promise<I420Frame>((resolve) => p.once('frame', (frame) => resolve(frame)));
      const iceFailed = new Promise<never>((_, reject) =>
        p.on('state', (s) => {
          if (s === 'failed') reject(new Error(`the WebRTC connection to streamer ${streamerId} failed (ICE); check that the worker can reach Unreal's host over UDP, or give the signalling server a TURN server in its peerConnectionOptions`));
        }),
      );
      iceFailed.catch(() => undefined);

      signalling.send({ type: 'subscribe', streamerId });
      const offer = await signalling.next(['offer', 'subscribeFailed'], left(), `an offer from streamer ${streamerId}`).catch((err: Error) => {
        throw new Error(`${err.message}; Unreal accepted the subscription but never offered a stream (is Pixel Streaming started in that instance?)`);
      });
      if (offer.type === 'subscribeFailed') throw new Error(`the signalling server refused to subscribe to streamer ${streamerId}: ${offer.message ?? 'no reason given'}`);
      const answerSdp = await p.answer(offer.sdp);
      signalling.send({ type: 'answer', sdp: answerSdp });

      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const state = p.pc.connectionState;
          reject(
            new Error(
              state === 'connected'
                ? `streamer ${streamerId} connected but sent no video frame within ${opts.connectTimeoutMs} ms`
                : `the WebRTC connection to streamer ${streamerId} did not connect within ${opts.connectTimeoutMs} ms (state ${state}); check that UDP reaches Unreal's host, or configure STUN/TURN in the signalling server's peerConnectionOptions`,
            ),
          );
        }, left());
      });
      let onClosed: (reason: string) => void = () => undefined;
      const closedEarly = new Promise<never>((_, reject) => {
        onClosed = (reason) => reject(new Error(`${reason} before the first video frame`));
        signalling.once('closed', onClosed);
      });
      let first: I420Frame;
      try {
        first = await Promise.race([firstFrame, iceFailed, timeout, closedEarly]);
      } finally {
        clearTimeout(timer);
        signalling.off('closed', onClosed);
      }
      signalling.off('message', onMessage);
      const connection = new PixelStreamingConnection(streamerId, signalling, p, opts.stallTimeoutMs);
      connection.frameSize = { width: first.width, height: first.height };
      connection.watch();
      log.info({ streamer: streamerId, signalling: where }, 'connected to Unreal Pixel Streaming');
      return connection;
    } catch (err) {
      peer?.close();
      signalling.close();
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  get dataOpen(): boolean {
    return this.peer.dataOpen;
  }

  /** Sends one data channel message to Unreal; false if the channel is not open yet. */
  send(bytes: Uint8Array): boolean {
    return this.peer.send(bytes);
  }

  transportDelay(): Promise<TransportDelay> {
    return this.peer.transportDelay();
  }

  close(reason = 'closed by the worker'): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearInterval(this.watchdog);
    this.peer.removeAllListeners('frame');
    this.peer.close();
    this.signalling.send({ type: 'unsubscribe' });
    this.signalling.close();
    this.emit('closed', reason);
  }

  private watch(): void {
    this.lastFrameAt = performance.now();
    this.peer.on('frame', (frame, at) => {
      this.lastFrameAt = at;
      this.emit('frame', frame, at);
    });
    this.peer.on('data', (bytes) => this.emit('data', bytes));
    this.peer.on('dataOpen', () => this.emit('dataOpen'));
    this.peer.on('state', (state) => {
      if (state === 'failed' || state === 'closed') this.close(`the WebRTC connection to streamer ${this.streamerId} ${state}`);
    });
    this.signalling.on('closed', (reason) => this.close(reason));
    this.signalling.on('message', (m) => {
      if (m.type === 'streamerDisconnected') this.close(`streamer ${this.streamerId} left the signalling server`);
      if (m.type === 'iceCandidate') void this.peer.addRemoteCandidate(m.candidate);
    });
    this.watchdog = setInterval(() => {
      const silentMs = performance.now() - this.lastFrameAt;
      if (silentMs > this.stallTimeoutMs) this.close(`no video from streamer ${this.streamerId} for ${Math.round(silentMs)} ms`);
    }, Math.min(500, this.stallTimeoutMs / 2));
    this.watchdog.unref();
  }
}

function pickStreamer(ids: string[], wanted: string | undefined, where: string): string {
  if (wanted) {
    if (ids.includes(wanted)) return wanted;
    throw new Error(
      `no streamer "${wanted}" on the signalling server at ${where} (streaming: ${ids.length ? ids.join(', ') : 'none'}); start Unreal with -PixelStreamingURL=ws://<signalling host>:8888 -PixelStreamingID=${wanted}, or fix streamerId`,
    );
  }
  if (ids.length === 1) return ids[0]!;
  if (ids.length === 0) {
    throw new Error(`no streamer is connected to the signalling server at ${where}; start Unreal with -PixelStreamingURL=ws://<signalling host>:8888`);
  }
  throw new Error(`the signalling server at ${where} has several streamers (${ids.join(', ')}); set streamerId in the avatar profile`);
}

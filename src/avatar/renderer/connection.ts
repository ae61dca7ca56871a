import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  BinaryKind,
  decodeBinary,
  encodeBinary,
  maxMessageBytes,
  parseRendererMessage,
  ProtocolError,
  SUPPORTED_PROTOCOL_VERSIONS,
  type BinaryHeader,
  type ParsedRendererMessage,
  type ReadyMessage,
  type StartMessage,
  type WorkerMessage,
} from './protocol.js';

export interface RendererConnectOptions {
  url: string;
  /** AVATAR_RENDERER_SECRET, sent as `Authorization: Bearer …`. */
  secret?: string;
  /** Everything of the start message but the fields this module owns. */
  start: Omit<StartMessage, 'type' | 'versions'>;
  /** Socket open + start/ready exchange, in total. */
  timeoutMs: number;
  /** Nothing received for this long (frames, credits, pongs): the connection is dead. */
  silenceTimeoutMs: number;
  logger: Logger;
}

/**
 * Why a renderer could not be reached or kept. `permanent` failures (a refused secret, an
 * unknown avatar, no common protocol version) are not worth retrying.
 */
export class RendererConnectError extends Error {
  override name = 'RendererConnectError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** The URL without credentials or query, fit for logs and error messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export interface RendererConnectionEvents {
  /** A binary message from the renderer, header checked (the payload is the caller's to validate). */
  binary: [header: BinaryHeader, payload: Uint8Array];
  /** A JSON message after `ready`. */
  message: [message: ParsedRendererMessage];
  /** The renderer sent something that breaks the protocol; the connection stays up. */
  protocolError: [error: ProtocolError];
  /** The connection is gone (not by close()), with why. */
  lost: [reason: string];
}

/**
 * One websocket to a renderer, for one session: connects with the bearer secret, does the
 * start/ready exchange (version negotiated there), then carries messages both ways. It answers
 * pings, pings the renderer itself, and declares the link dead when the renderer goes silent.
 */
export class RendererConnection extends EventEmitter<RendererConnectionEvents> {
  private seq = 0;
  private pingId = 0;
  private lastHeardAt = Date.now();
  private watchdog: NodeJS.Timeout | undefined;
  private closedByUs = false;
  private gone = false;

  private constructor(
    private readonly ws: WebSocket,
    readonly ready: ReadyMessage,
    private readonly opts: RendererConnectOptions,
  ) {
    super();
  }

  static async open(opts: RendererConnectOptions): Promise<RendererConnection> {
    const where = `renderer at ${displayUrl(opts.url)}`;
    const headers: Record<string, string> = {};
    if (opts.secret) headers.authorization = `Bearer ${opts.secret}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(opts.url, { headers, perMessageDeflate: false, maxPayload: maxMessageBytes(opts.start.video), handshakeTimeout: opts.timeoutMs });
    } catch (err) {
      throw new RendererConnectError(`${where}: ${(err as Error).message}; check the profile's url`, true);
    }
    ws.binaryType = 'nodebuffer';

    const ready = await new Promise<ReadyMessage>((resolve, reject) => {
      const fail = (err: RendererConnectError) => {
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new RendererConnectError(`${where} did not ${ws.readyState === WebSocket.OPEN ? 'answer the session start with ready' : 'accept the connection'} within ${opts.timeoutMs} ms; is it up and not overloaded? (raise startTimeoutMs if the avatar takes longer to load)`, false)),
        opts.timeoutMs,
      );
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        res.resume();
        if (status === 401 || status === 403) {
          fail(
            new RendererConnectError(
              opts.secret
                ? `${where} refused the secret (HTTP ${status}): set AVATAR_RENDERER_SECRET to the secret the renderer expects`
                : `${where} requires a secret (HTTP ${status}): set AVATAR_RENDERER_SECRET`,
              true,
            ),
          );
        } else {
          fail(new RendererConnectError(`${where} answered HTTP ${status} instead of a websocket; check the profile's url (host, port and path)`, status >= 400 && status < 500));
        }
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ? ` (${err.code})` : '';
        const hint = err.code === 'ECONNREFUSED' ? 'is the renderer running, and is the url right?' : 'check the url and the network';
        fail(new RendererConnectError(`${where} could not be reached${code}: ${err.message}; ${hint}`, false));
      });
      ws.on('close', (code, reason) => fail(new RendererConnectError(`${where} closed the connection during the session start (code ${code}${reason.length ? `: ${reason.toString().slice(0, 200)}` : ''})`, false)));
      ws.on('open', () => {
        const start: StartMessage = { type: 'start', versions: [...SUPPORTED_PROTOCOL_VERSIONS], ...opts.start };
        ws.send(JSON.stringify(start));
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return fail(new RendererConnectError(`${where} sent binary data before ready; it does not speak renderer protocol v1`, true));
        let msg: ParsedRendererMessage;
        try {
          msg = parseRendererMessage(data.toString());
        } catch (err) {
          return fail(new RendererConnectError(`${where} broke the protocol during the session start: ${(err as Error).message}`, true));
        }
        if (msg.type === 'error') {
          const permanent = ['unauthorized', 'unsupported_version', 'bad_start', 'unknown_avatar'].includes(msg.code);
          return fail(new RendererConnectError(`${where} refused the session: ${msg.code}: ${msg.message}`, permanent));
        }
        if (msg.type === 'ping') return void ws.send(JSON.stringify({ type: 'pong', id: msg.id }));
        if (msg.type !== 'ready') return fail(new RendererConnectError(`${where} sent ${msg.type} before ready`, true));
        if (!(SUPPORTED_PROTOCOL_VERSIONS as readonly number[]).includes(msg.version)) {
          return fail(new RendererConnectError(`${where} chose protocol v${msg.version}; this worker speaks v${SUPPORTED_PROTOCOL_VERSIONS.join(', v')}: upgrade one of them`, true));
        }
        const want = opts.start.video;
        const got = msg.video;
        if (got.width !== want.width || got.height !== want.height || got.fps !== want.fps || got.format !== want.format) {
          return fail(
            new RendererConnectError(
              `${where} offers ${got.width}x${got.height} ${got.format} at ${got.fps} fps; the profile asks for ${want.width}x${want.height} ${want.format} at ${want.fps} fps: change the profile's width/height/fps/frameFormat to what the renderer supports`,
              true,
            ),
          );
        }
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => {}); // until attach() takes over, a socket error must not go unhandled
        resolve(msg);
      });
    });

    const conn = new RendererConnection(ws, ready, opts);
    conn.attach();
    return conn;
  }

  sendJson(message: WorkerMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  sendBinary(kind: keyof typeof BinaryKind, segment: number, pts: number, payload: Uint8Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(encodeBinary({ kind: BinaryKind[kind], flags: 0, seq: this.seq++, segment, pts }, payload));
  }

  /** Bytes handed to the socket but not yet written: a sign of a stuck peer. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get open(): boolean {
    return !this.gone && this.ws.readyState === WebSocket.OPEN;
  }

  /** Drop the link as broken (garbage, silence): emits `lost`. */
  abort(reason: string): void {
    this.markLost(reason);
  }

  close(): void {
    this.closedByUs = true;
    clearInterval(this.watchdog);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'session over');
    else this.ws.terminate();
  }

  private attach(): void {
    const ws = this.ws;
    this.lastHeardAt = Date.now();
    ws.on('message', (data: Buffer, isBinary) => {
      this.lastHeardAt = Date.now();
      if (isBinary) {
        try {
          const { header, payload } = decodeBinary(data);
          this.emit('binary', header, payload);
        } catch (err) {
          this.emit('protocolError', err as ProtocolError);
        }
        return;
      }
      let msg: ParsedRendererMessage;
      try {
        msg = parseRendererMessage(data.toString());
      } catch (err) {
        this.emit('protocolError', err as ProtocolError);
        // Tell the renderer too: a developer reading its log sees what to fix.
        this.sendJson({ type: 'error', code: 'bad_message', message: (err as Error).message, fatal: false });
        return;
      }
      if (msg.type === 'ping') return this.sendJson({ type: 'pong', id: msg.id });
      if (msg.type === 'pong') return;
      if (msg.type === 'error' && msg.fatal) return this.markLost(`renderer error ${msg.code}: ${msg.message}`);
      this.emit('message', msg);
    });
    ws.on('error', (err) => this.markLost(`socket error: ${err.message}`));
    ws.on('close', (code, reason) => this.markLost(`renderer closed the connection (code ${code}${reason.length ? `: ${reason.toString().slice(0, 200)}` : ''})`));
    // Ping a third of the silence budget, so a quiet but healthy renderer is never taken for dead.
    const every = Math.max(200, Math.floor(this.opts.silenceTimeoutMs / 3));
    this.watchdog = setInterval(() => {
      const silentMs = Date.now() - this.lastHeardAt;
      if (silentMs >= this.opts.silenceTimeoutMs) return this.markLost(`renderer silent for ${silentMs} ms (no frames, credits or pongs)`);
      this.sendJson({ type: 'ping', id: this.pingId++ });
    }, every);
    this.watchdog.unref();
  }

  private markLost(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    clearInterval(this.watchdog);
    this.ws.removeAllListeners('message');
    this.ws.on('error', () => {});
    this.ws.terminate();
    if (!this.closedByUs) this.emit('lost', reason);
  }
}

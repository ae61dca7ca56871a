/**
 * The player side of the Pixel Streaming signalling connection: a WebSocket to the signalling
 * server's player port, the `config` greeting, keepalive pings, and parsed messages out.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { parseToPlayerMessage, type FromPlayerMessage, type ToPlayerMessage } from './signalling-messages.js';

export type ConfigMessage = Extract<ToPlayerMessage, { type: 'config' }>;

export interface SignallingEvents {
  message: [ToPlayerMessage];
  /** Once, when the socket is gone for any reason (server closed it, network, keepalive). */
  closed: [reason: string];
}

/** The URL with any credentials and query removed, for logs and error messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

export class SignallingClient extends EventEmitter<SignallingEvents> {
  private ws: WebSocket | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private closedReason: string | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly keepaliveMs: number,
  ) {
    super();
  }

  get isOpen(): boolean {
    return this.closedReason === undefined && this.ws?.readyState === WebSocket.OPEN;
  }

  /**
   * Opens the socket and waits for the server's `config` (which carries the ICE servers).
   * Rejects with a message naming the server and the fix when it cannot be reached in time.
   */
  async connect(timeoutMs: number, signal?: AbortSignal): Promise<ConfigMessage> {
    const where = describeUrl(this.url);
    const ws = new WebSocket(this.url, { handshakeTimeout: timeoutMs, perMessageDeflate: false });
    this.ws = ws;
    return new Promise<ConfigMessage>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.shutdown(why);
        reject(new Error(why));
      };
      const timer = setTimeout(
        () => fail(`the Pixel Streaming signalling server at ${where} sent no config within ${timeoutMs} ms; is this its player port?`),
        timeoutMs,
      );
      const onAbort = () => fail('connect aborted');
      signal?.addEventListener('abort', onAbort, { once: true });

      ws.on('error', (err: Error & { code?: string }) => {
        fail(`cannot reach the Pixel Streaming signalling server at ${where} (${err.code ?? err.message}); start the SignallingWebServer or fix signallingUrl (the player port, 80 by default)`);
      });
      ws.on('unexpected-response', (_req, res) => {
        fail(`the Pixel Streaming signalling server at ${where} refused the WebSocket (HTTP ${res.statusCode}); check signallingUrl`);
      });
      ws.on('close', (code, reason) => {
        const why = `signalling connection to ${where} closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`;
        if (!settled) fail(why);
        else this.shutdown(why);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let message: ToPlayerMessage | undefined;
        try {
          message = parseToPlayerMessage(data.toString());
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'malformed Pixel Streaming signalling message ignored');
          return;
        }
        if (!message) return;
        if (message.type === 'ping') {
          this.send({ type: 'pong', time: message.time });
          return;
        }
        if (message.type === 'pong') {
          this.awaitingPong = false;
          return;
        }
        if (message.type === 'config' && !settled) {
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.startKeepalive();
          resolve(message);
          return;
        }
        this.emit('message', message);
      });
    });
  }

  send(message: FromPlayerMessage): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(message));
  }

  /** Waits for the next message of `type`, or rejects when the socket closes or `ms` pass. */
  next<T extends ToPlayerMessage['type']>(type: T | T[], ms: number, what: string): Promise<Extract<ToPlayerMessage, { type: T }>> {
    const types: string[] = Array.isArray(type) ? type : [type];
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.off('message', onMessage);
        this.off('closed', onClosed);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what} did not arrive within ${ms} ms`));
      }, ms);
      const onMessage = (m: ToPlayerMessage) => {
        if (!types.includes(m.type)) return;
        done();
        resolve(m as Extract<ToPlayerMessage, { type: T }>);
      };
      const onClosed = (reason: string) => {
        done();
        reject(new Error(`${reason} while waiting for ${what}`));
      };
      if (this.closedReason !== undefined) {
        done();
        reject(new Error(`${this.closedReason} while waiting for ${what}`));
        return;
      }
      this.on('message', onMessage);
      this.on('closed', onClosed);
    });
  }

  close(): void {
    this.shutdown('closed by the worker');
  }

  private startKeepalive(): void {
    this.keepalive = setInterval(() => {
      if (this.awaitingPong) {
        this.shutdown(`signalling server at ${describeUrl(this.url)} stopped answering pings`);
        return;
      }
      this.awaitingPong = true;
      this.send({ type: 'ping', time: Date.now() });
    }, this.keepaliveMs);
    this.keepalive.unref();
  }

  private shutdown(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearInterval(this.keepalive);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      // terminate(), not close(): a dead server would hold a closing handshake open for 30 s.
      ws.removeAllListeners('message');
      ws.on('error', () => {});
      ws.terminate();
    }
    this.emit('closed', reason);
  }
}

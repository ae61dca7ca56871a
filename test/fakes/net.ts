/**
 * Plumbing shared by the fakes: an HTTP server on an ephemeral loopback port whose `close()` ends
 * every socket at once (hung requests and WebSockets included), and small request/response helpers.
 */
import { createServer as createNetServer } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';

export interface LoopbackServer {
  server: Server;
  port: number;
  /** Aborted by `close()`: pending delays (latency, hangs) end early so nothing outlives the fake. */
  signal: AbortSignal;
  /** For WebSocket endpoints: upgrades are completed through this (noServer mode). */
  wss: WebSocketServer;
  close(): Promise<void>;
}

/**
 * Starts `handler` on 127.0.0.1, port 0. `onUpgrade` receives WebSocket upgrade requests; when it is
 * absent, upgrades are refused with 404.
 */
export async function startLoopbackServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<LoopbackServer> {
  const abort = new AbortController();
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  // Clients keep connections alive between requests; close() must not wait for them.
  server.keepAliveTimeout = 1_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    // A client that goes away mid-handshake must not crash the test process.
    socket.on('error', () => {});
    if (onUpgrade) onUpgrade(req, socket, head);
    else refuseUpgrade(socket, 404, { error: 'not found' });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      abort.abort();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
    return closing;
  };
  return { server, port, signal: abort.signal, wss, close };
}

/** Resolves after `ms`, or at once when `signal` aborts (callers check `signal.aborted` after). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Answers a WebSocket upgrade request with a plain HTTP error, as a provider's gateway does. */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const reason = STATUS_TEXT[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  500: 'Internal Server Error',
};

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Writes one chunk and resolves once it reached the socket, so a following `destroy()` cannot swallow it. */
export function writeAndWait(res: ServerResponse, chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    res.write(chunk, () => resolve());
  });
}

/** Kills the connection under a response without a clean end: the client sees a network error. */
export function dropConnection(res: ServerResponse): void {
  res.socket?.destroy();
}

/** Query parameters of a request URL. */
export function parseUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://127.0.0.1');
}

/** A TCP port free on loopback right now (for a child process that must be told its port up front). */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

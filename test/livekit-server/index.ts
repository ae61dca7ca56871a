/**
 * A LiveKit-protocol server for tests (never a product feature): real clients (`@livekit/rtc-node`,
 * livekit-client, `@livekit/agents` workers, livekit-server-sdk) connect to it as to a LiveKit
 * server 1.9, and tests can look inside. It speaks the signal protocol over `/rtc`, relays media
 * through libwebrtc (`@roamhq/wrtc`) and routes data packets; `/agent` and Twirp RoomService /
 * AgentDispatchService cover what an agent worker and a backend use.
 *
 *   const server = await startTestLiveKitServer();
 *   await room.connect(server.url, await server.token({ identity: 'alice', room: 'r1' }));
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DisconnectReason } from '@livekit/protocol';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';
import { WebSocketServer } from 'ws';
import { AgentDispatcher, type DispatchHold, type JobSnapshot, type WorkerSnapshot } from './agents.js';
import { AuthError, Authenticator } from './auth.js';
import { newSid } from './ids.js';
import { createServerLog, errorText, type LogLevel, type LogLine } from './log.js';
import type { RoomSnapshot } from './room.js';
import type { InboundTrackStats } from './participant.js';
import { RoomRegistry } from './rooms.js';
import { authorizeJoin, handleSignalUpgrade, refuseUpgrade, type SignalContext } from './signal.js';
import { createTwirpHandler } from './twirp.js';

export type { DispatchHold, HeldDispatch, JobSnapshot, WorkerSnapshot } from './agents.js';
export type { LogLine } from './log.js';
export type { InboundTrackStats, ParticipantSnapshot } from './participant.js';
export type { RoomSnapshot } from './room.js';

export interface TestLiveKitServerOptions {
  apiKey?: string;
  apiSecret?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Least level printed to stderr; default `LIVEKIT_TEST_SERVER_LOG` or `error` (warnings, e.g. a
   * connection closed for malformed input, are kept quiet for tests that provoke them). Every line,
   * whatever its level, is kept in `logs`.
   */
  log?: LogLevel | false;
  /** Largest signal (and worker) WebSocket message accepted; bigger ones close that connection. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Seconds a room nobody joined lives (Go default 300). */
  emptyTimeoutS?: number;
  /** Seconds a room lives after its last participant left (Go default 20). */
  departureTimeoutS?: number;
  /** Seconds without a message before a signal connection counts as dead (default 15). */
  pingTimeoutS?: number;
  /**
   * Awaited before each job of a dispatch is offered to a worker: the agent joins late, as in a
   * deployment whose dispatch is slow (workers scaling from zero, a queue in front of them). A test
   * resolves it on a condition (e.g. once the user has spoken), not after a fixed time. Default none.
   */
  holdDispatch?: DispatchHold;
}

export interface TokenOptions {
  identity: string;
  room: string;
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  kind?: 'standard' | 'agent' | 'sip' | 'ingress' | 'egress';
  /** Merged over `{ roomJoin: true, room, canUpdateOwnMetadata: true }`. */
  grant?: VideoGrant;
  ttl?: string | number;
}

export interface TestLiveKitServer {
  /** `ws://host:port`, for Room.connect and agent workers. */
  readonly url: string;
  /** `http://host:port`, for RoomServiceClient and AgentDispatchClient. */
  readonly httpUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** A join token signed with this server's key. */
  token(opts: TokenOptions): Promise<string>;
  rooms(): RoomSnapshot[];
  room(name: string): RoomSnapshot | undefined;
  workers(): WorkerSnapshot[];
  jobs(): JobSnapshot[];
  /** The server's receiving side of `identity`'s published tracks in `room` ([] when not there). */
  inboundStats(room: string, identity: string): Promise<InboundTrackStats[]>;
  /** Everything the server logged, oldest first. */
  readonly logs: readonly LogLine[];
  /** Open signal and worker connections. */
  connectionCount(): number;
  /** Sends everyone away (SERVER_SHUTDOWN), closes every connection and the port. */
  close(): Promise<void>;
}

const CORS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*', 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS' };

export async function startTestLiveKitServer(opts: TestLiveKitServerOptions = {}): Promise<TestLiveKitServer> {
  const apiKey = opts.apiKey ?? 'devkey';
  const apiSecret = opts.apiSecret ?? 'secret';
  const envLog = process.env.LIVEKIT_TEST_SERVER_LOG as LogLevel | undefined;
  const log = createServerLog(opts.log ?? envLog ?? 'error');
  const nodeId = newSid('ND_');
  const auth = new Authenticator(apiKey, apiSecret);
  const rooms = new RoomRegistry({ emptyTimeoutS: opts.emptyTimeoutS ?? 300, departureTimeoutS: opts.departureTimeoutS ?? 20 }, log, nodeId);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: opts.maxMessageBytes ?? 1024 * 1024 });
  const signalContext: SignalContext = { auth, rooms, log, wss, ...(opts.pingTimeoutS !== undefined ? { pingTimeoutS: opts.pingTimeoutS } : {}) };
  const sockets = new Set<Socket>();
  let urls = { url: '', httpUrl: '' };
  const agents = new AgentDispatcher({ auth, rooms, log, wss, nodeId, apiKey, apiSecret, url: () => urls.url, ...(opts.holdDispatch ? { holdDispatch: opts.holdDispatch } : {}) });
  rooms.setLifecycle(agents);
  const twirp = createTwirpHandler({ auth, rooms, agents, log });

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = normalizePath(url.pathname);
    const reply = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain', ...CORS, ...headers });
      res.end(body);
    };
    if (req.method === 'OPTIONS') return reply(204, '');
    // Answering 404 on the v1 (single peer connection) paths makes both SDKs fall back to /rtc.
    if (path === '/rtc/v1' || path === '/rtc/v1/validate') return reply(404, 'v1 rtc path not found');
    if (path === '/rtc/validate') {
      authorizeJoin(signalContext, req, url).then(
        () => reply(200, 'success'),
        (error: unknown) => reply(error instanceof AuthError ? error.status : 500, errorText(error)),
      );
      return;
    }
    if (path.startsWith('/twirp/')) {
      twirp(req, res, path).catch((error: unknown) => {
        log.error(`twirp ${path} failed: ${errorText(error)}`);
        if (!res.headersSent) reply(500, errorText(error));
      });
      return;
    }
    if (path === '/' || path === '') return reply(200, 'OK');
    reply(404, 'not found');
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that goes away mid-handshake must not take the process down.
    socket.on('error', (error) => log.debug(`upgrade socket error: ${errorText(error)}`));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = normalizePath(url.pathname);
    // Parameter names only: values include tokens.
    log.debug(`upgrade ${path} (${[...url.searchParams.keys()].join(', ')}; authorization header: ${req.headers.authorization ? 'yes' : 'no'})`);
    const failed = (error: unknown) => {
      log.error(`upgrade ${path} failed: ${errorText(error)}`);
      refuseUpgrade(socket, 500, errorText(error));
    };
    if (path === '/rtc') handleSignalUpgrade(signalContext, req, socket, head, url).catch(failed);
    else if (path === '/agent') agents.handleUpgrade(req, socket, head, url).catch(failed);
    else refuseUpgrade(socket, 404, `${path} not found`, CORS);
  };

  const server = createServer(onRequest);
  server.keepAliveTimeout = 1_000;
  server.on('upgrade', onUpgrade);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  urls = { url: `ws://${host}:${port}`, httpUrl: `http://${host}:${port}` };
  log.info(`listening on ${urls.url}`);

  let closing: Promise<void> | undefined;
  return {
    ...urls,
    apiKey,
    apiSecret,
    logs: log.lines,
    async token(t: TokenOptions) {
      const token = new AccessToken(apiKey, apiSecret, {
        identity: t.identity,
        ...(t.name !== undefined ? { name: t.name } : {}),
        ...(t.metadata !== undefined ? { metadata: t.metadata } : {}),
        ...(t.attributes !== undefined ? { attributes: t.attributes } : {}),
        ...(t.ttl !== undefined ? { ttl: t.ttl } : {}),
      });
      if (t.kind) token.kind = t.kind as never;
      token.addGrant({ roomJoin: true, room: t.room, canUpdateOwnMetadata: true, ...t.grant });
      return token.toJwt();
    },
    rooms: () => rooms.all().map((room) => room.snapshot()),
    room: (name) => rooms.get(name)?.snapshot(),
    workers: () => agents.workerSnapshots(),
    jobs: () => agents.jobSnapshots(),
    inboundStats: async (room, identity) => (await rooms.get(room)?.participants.get(identity)?.inboundStats()) ?? [],
    connectionCount: () => wss.clients.size,
    close() {
      closing ??= (async () => {
        log.info('shutting down');
        rooms.closeAll(DisconnectReason.SERVER_SHUTDOWN);
        agents.close();
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
      })();
      return closing;
    },
  };
}

function normalizePath(pathname: string): string {
  const collapsed = pathname.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

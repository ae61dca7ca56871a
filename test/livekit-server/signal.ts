/**
 * The signal connection (`/rtc`): authenticates the upgrade, admits the participant into its room,
 * decodes SignalRequests (binary protobuf only) and hands them to the participant. A connection
 * that sends something malformed or oversized is closed with a log line; the rest of the server
 * carries on. A connection silent for longer than the ping timeout is closed like a dead client.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { DisconnectReason, LeaveRequest, LeaveRequest_Action, SignalRequest, SignalResponse } from '@livekit/protocol';
import { WebSocket, type WebSocketServer } from 'ws';
import { AuthError, permissionFromGrant, tokenFromRequest, type Authenticator } from './auth.js';
import { errorText, type ServerLog } from './log.js';
import { Participant } from './participant.js';
import { PING_TIMEOUT_S } from './room.js';
import type { RoomRegistry } from './rooms.js';

export interface SignalContext {
  auth: Authenticator;
  rooms: RoomRegistry;
  log: ServerLog;
  /** WebSocket server in noServer mode whose maxPayload bounds a signal message. */
  wss: WebSocketServer;
  pingTimeoutS?: number;
}

/** Answers an upgrade request with a plain HTTP error, as the Go server's handler does. */
export function refuseUpgrade(socket: Duplex, status: number, message: string, extraHeaders: Record<string, string> = {}): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[status] ?? 'Error';
  const body = Buffer.from(message);
  const headers = Object.entries({ 'Content-Type': 'text/plain', 'Content-Length': String(body.length), Connection: 'close', ...extraHeaders })
    .map(([key, value]) => `${key}: ${value}\r\n`)
    .join('');
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${reason}\r\n${headers}\r\n`), body]));
}

/** Checks the token for a join; throws AuthError. Shared with `/rtc/validate`. */
export async function authorizeJoin(ctx: SignalContext, req: IncomingMessage, url: URL) {
  const claims = await ctx.auth.verify(tokenFromRequest(req, url));
  if (!claims.video.roomJoin || !claims.video.room) throw new AuthError('permission denied: the token has no roomJoin grant for a room');
  if (!claims.identity) throw new AuthError('the token has no identity (sub)');
  return claims;
}

export async function handleSignalUpgrade(ctx: SignalContext, req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
  let claims;
  try {
    claims = await authorizeJoin(ctx, req, url);
  } catch (error) {
    const status = error instanceof AuthError ? error.status : 500;
    ctx.log.warn(`signal: join refused with ${status}: ${errorText(error)}`);
    refuseUpgrade(socket, status, errorText(error));
    return;
  }
  const roomName = claims.video.room ?? '';
  const autoSubscribe = !['0', 'false'].includes(url.searchParams.get('auto_subscribe') ?? '1');
  const clientProtocol = Number(url.searchParams.get('protocol') ?? 0) || 0;
  const resuming = url.searchParams.get('reconnect') === '1';

  ctx.wss.handleUpgrade(req, socket, head, (ws) => {
    const send = (message: SignalResponse['message']) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(new SignalResponse({ message }).toBinary());
    };
    if (resuming) {
      // Sessions are not resumable here; this tells the client to rejoin from scratch.
      ctx.log.info(`signal: ${claims.identity} tried to resume; asked to reconnect fully`);
      send({ case: 'leave', value: new LeaveRequest({ canReconnect: true, reason: DisconnectReason.STATE_MISMATCH, action: LeaveRequest_Action.RECONNECT }) });
      ws.close(1000, 'resume not supported');
      return;
    }

    const { room } = ctx.rooms.getOrCreate(roomName, {
      ...(claims.roomConfig
        ? {
            emptyTimeoutS: claims.roomConfig.emptyTimeout,
            departureTimeoutS: claims.roomConfig.departureTimeout,
            maxParticipants: claims.roomConfig.maxParticipants,
            metadata: claims.roomConfig.metadata,
            agents: claims.roomConfig.agents,
          }
        : {}),
    });
    const participant = new Participant({
      claims,
      permission: permissionFromGrant(claims.video),
      autoSubscribe,
      clientProtocol,
      room,
      signal: {
        send,
        close: (code, reason) => {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason.slice(0, 120));
        },
      },
    });
    try {
      room.join(participant);
    } catch (error) {
      ctx.log.warn(`signal: ${claims.identity} could not join ${roomName}: ${errorText(error)}`);
      participant.sendLeave(DisconnectReason.JOIN_FAILURE);
      participant.close(DisconnectReason.JOIN_FAILURE);
      return;
    }

    let lastHeard = Date.now();
    const pingTimeoutMs = (ctx.pingTimeoutS ?? PING_TIMEOUT_S) * 1000;
    const watchdog = setInterval(() => {
      if (Date.now() - lastHeard <= pingTimeoutMs) return;
      ctx.log.warn(`signal: ${participant.identity} silent for ${pingTimeoutMs} ms, closing`);
      room.removeParticipant(participant, DisconnectReason.CONNECTION_TIMEOUT);
    }, 1000);
    watchdog.unref();

    const drop = (why: string, code: number) => {
      ctx.log.warn(`signal: closing ${participant.identity}'s connection: ${why}`);
      ws.close(code, why.slice(0, 120));
    };
    ws.on('message', (data, isBinary) => {
      lastHeard = Date.now();
      if (!isBinary) return drop('text frame (signal messages are binary protobuf)', 1003);
      let request: SignalRequest;
      try {
        request = SignalRequest.fromBinary(toBytes(data));
      } catch (error) {
        return drop(`malformed SignalRequest (${errorText(error)})`, 1007);
      }
      participant.enqueue(request);
    });
    ws.on('error', (error) => {
      // ws reports an oversized frame (maxPayload) here and closes with 1009 itself.
      ctx.log.warn(`signal: ${participant.identity}'s connection failed: ${errorText(error)}`);
    });
    ws.on('close', () => {
      clearInterval(watchdog);
      // No leave first means the client vanished; a leave already removed it (idempotent).
      room.removeParticipant(participant, participant.isClosed ? participant.disconnectReason : DisconnectReason.SIGNAL_CLOSE);
    });
  });
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}

/**
 * Fake HeyGen LiveAvatar API (https://api.liveavatar.com), LITE mode:
 * - `POST /v1/sessions/token` (X-API-KEY) `{mode: "LITE", avatar_id, is_sandbox, video_quality?,
 *   livekit_config {livekit_room, livekit_url, livekit_client_token}}` →
 *   `{code: 1000, data: {session_id, session_token}}`;
 * - `POST /v1/sessions/start` (Bearer session token) `{session_id}` → `{code, data: {ws_url}}`,
 *   and the avatar joins the room;
 * - `POST /v1/sessions/stop` (Bearer session token) `{session_id, reason}`: the avatar leaves and
 *   the websocket closes;
 * - the websocket: `session.state_updated` connecting → connected, then takes `agent.speak`
 *   (base64 PCM16 24 kHz, ≤ 1 MB), `agent.speak_end`, `agent.interrupt`, `session.keep_alive`,
 *   `agent.start_listening` / `agent.stop_listening`, and answers `agent.speak_started`,
 *   `agent.speak_ended` (when the audio would have played out in real time) and
 *   `agent.speak_interrupted`, each carrying the event_id of the speech.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { refuseUpgrade } from '../net.js';
import { bearer, jwt, ProviderCore, wsUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const tokenBody = z.strictObject({
  mode: z.literal('LITE'),
  avatar_id: z.string().min(1),
  is_sandbox: z.boolean().optional(),
  video_quality: z.enum(['very_high', 'high', 'medium', 'low']).optional(),
  livekit_config: z.strictObject({ livekit_room: z.string().min(1), livekit_url: wsUrl, livekit_client_token: jwt }),
});

const commandSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('agent.speak'), event_id: z.string().optional(), audio: z.base64() }),
  z.strictObject({ type: z.literal('agent.speak_end'), event_id: z.string() }),
  z.strictObject({ type: z.literal('agent.interrupt'), event_id: z.string().optional() }),
  z.strictObject({ type: z.literal('agent.start_listening'), event_id: z.string() }),
  z.strictObject({ type: z.literal('agent.stop_listening'), event_id: z.string() }),
  z.strictObject({ type: z.literal('session.keep_alive'), event_id: z.string() }),
]);

export interface LiveAvatarSpeech {
  eventId: string;
  /** PCM16 24 kHz mono received for it. */
  pcm: Int16Array[];
  messages: number;
  firstAt: number;
  endedAt?: number;
  interrupted: boolean;
}

export interface FakeLiveAvatar extends ProviderFake {
  /** Speech received over the websockets, in order. */
  readonly speech: LiveAvatarSpeech[];
  readonly keepAlives: number[];
  readonly interrupts: number[];
  /** Every websocket message received, parsed. */
  readonly commands: unknown[];
  /** When true the websocket never answers speak_started/ended (a mute avatar). */
  mute: boolean;
  /** Close every open websocket as if LiveAvatar dropped it. */
  dropSockets(): void;
}

interface Session {
  id: string;
  token: string;
  url: string;
  livekitToken: string;
  started: boolean;
  sockets: Set<WebSocket>;
}

export async function startFakeLiveAvatar(opts: ProviderFakeOptions & { avatars?: string[] }): Promise<FakeLiveAvatar> {
  const core = new ProviderCore('liveavatar', opts, (status, message) => ({ code: status * 10, data: null, message }));
  const avatars = new Set(opts.avatars ?? ['la-avatar-1']);
  const sessions = new Map<string, Session>();
  const speech: LiveAvatarSpeech[] = [];
  const keepAlives: number[] = [];
  const interrupts: number[] = [];
  const commands: unknown[] = [];
  const sessionFor = (tokenHeader: string | undefined, id: unknown) => {
    const t = bearer(tokenHeader);
    const s = typeof id === 'string' ? sessions.get(id) : undefined;
    return s && s.token === t ? s : undefined;
  };

  const fake = Object.assign(core, {
    speech,
    keepAlives,
    interrupts,
    commands,
    mute: false,
    dropSockets() {
      for (const s of sessions.values()) for (const ws of s.sockets) ws.terminate();
    },
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const m = /^\/v1\/sessions\/ws\/([^/?]+)/.exec(req.url ?? '');
    const s = m ? sessions.get(m[1]!) : undefined;
    if (!s || !s.started) return refuseUpgrade(socket, 404, { message: 'unknown session' });
    core.wss.handleUpgrade(req, socket, head, (ws) => serveSocket(s, ws));
  };

  function serveSocket(s: Session, ws: WebSocket) {
    s.sockets.add(ws);
    ws.on('close', () => s.sockets.delete(ws));
    const send = (msg: Record<string, unknown>) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg));
    send({ type: 'session.state_updated', state: 'connecting' });
    setTimeout(() => send({ type: 'session.state_updated', state: 'connected' }), 20);
    let playheadAt = 0;
    const timers = new Set<NodeJS.Timeout>();
    let current: LiveAvatarSpeech | undefined;
    ws.on('message', (data: RawData, isBinary) => {
      if (isBinary) return void core.problems.push('websocket: binary message (LiveAvatar takes JSON text)');
      const text = data.toString();
      if (text.length > 1_000_000) core.problems.push('websocket: message over 1 MB');
      let parsed;
      try {
        parsed = commandSchema.safeParse(JSON.parse(text));
      } catch {
        return void core.problems.push('websocket: message is not JSON');
      }
      if (!parsed.success) return void core.problems.push(`websocket: ${parsed.error.issues[0]!.message} in ${text.slice(0, 80)}`);
      const cmd = parsed.data;
      commands.push(cmd.type === 'agent.speak' ? { ...cmd, audio: `[${cmd.audio.length} base64 chars]` } : cmd);
      const now = Date.now();
      if (cmd.type === 'agent.speak') {
        const bytes = Buffer.from(cmd.audio, 'base64');
        if (bytes.length % 2 !== 0) core.problems.push('agent.speak: audio is not whole PCM16 samples');
        const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length - (bytes.length % 2)));
        const id = cmd.event_id ?? 'no-event-id';
        if (!current || current.eventId !== id || current.endedAt !== undefined) {
          current = { eventId: id, pcm: [], messages: 0, firstAt: now, interrupted: false };
          speech.push(current);
          const startAt = Math.max(now, playheadAt);
          const seg = current;
          const t = setTimeout(() => {
            timers.delete(t);
            if (!fake.mute && !seg.interrupted) send({ type: 'agent.speak_started', event_id: seg.eventId, task: { id: seg.eventId } });
          }, startAt - now);
          timers.add(t);
        }
        current.pcm.push(pcm);
        current.messages++;
        playheadAt = Math.max(now, playheadAt) + (pcm.length / 24_000) * 1000;
      } else if (cmd.type === 'agent.speak_end') {
        const seg = speech.find((x) => x.eventId === cmd.event_id && x.endedAt === undefined);
        if (!seg) return void core.problems.push(`agent.speak_end for unknown event_id ${cmd.event_id}`);
        seg.endedAt = now;
        const t = setTimeout(() => {
          timers.delete(t);
          if (!fake.mute && !seg.interrupted) send({ type: 'agent.speak_ended', event_id: seg.eventId, task: { id: seg.eventId } });
        }, Math.max(0, playheadAt - now));
        timers.add(t);
      } else if (cmd.type === 'agent.interrupt') {
        interrupts.push(now);
        for (const t of timers) clearTimeout(t);
        timers.clear();
        playheadAt = now;
        for (const seg of speech) {
          if (!seg.interrupted && (seg.endedAt === undefined || seg.endedAt > now - 60_000)) {
            seg.interrupted = true;
            seg.endedAt ??= now;
            if (!fake.mute) send({ type: 'agent.speak_interrupted', event_id: seg.eventId });
          }
        }
        current = undefined;
      } else if (cmd.type === 'session.keep_alive') {
        keepAlives.push(now);
      }
    });
    ws.on('close', () => {
      for (const t of timers) clearTimeout(t);
    });
  }

  await core.start(
    [
      {
        method: 'POST',
        path: /^\/v1\/sessions\/token$/,
        endpoint: 'token',
        session: true,
        async handle(ctx) {
          if (!core.checkKey(ctx, ctx.headers['x-api-key'] as string | undefined, 'X-API-KEY')) return;
          const body = core.json(ctx, tokenBody);
          if (!body) return;
          if (!avatars.has(body.avatar_id)) return core.refuse(ctx, 404, `avatar ${body.avatar_id} not found`);
          const lk = body.livekit_config;
          const token = await core.verifyToken(ctx, lk.livekit_client_token, lk.livekit_url);
          if (!token) return;
          if (token.room !== lk.livekit_room) return core.refuse(ctx, 422, `livekit_room ${lk.livekit_room} is not the token's room ${token.room}`);
          const s: Session = { id: randomUUID(), token: `la-st-${randomUUID()}`, url: lk.livekit_url, livekitToken: lk.livekit_client_token, started: false, sockets: new Set() };
          sessions.set(s.id, s);
          core.answer(ctx, 200, { code: 1000, data: { session_id: s.id, session_token: s.token }, message: 'success' });
        },
      },
      {
        method: 'POST',
        path: /^\/v1\/sessions\/start$/,
        endpoint: 'start',
        session: true,
        handle(ctx) {
          const body = core.json(ctx, z.strictObject({ session_id: z.string() }));
          if (!body) return;
          const s = sessionFor(ctx.headers.authorization, body.session_id);
          ctx.record.apiKey = bearer(ctx.headers.authorization);
          if (!s) return core.refuse(ctx, 401, 'start needs the session token (Bearer) of that session');
          s.started = true;
          core.answer(ctx, 200, { code: 1000, data: { session_id: s.id, ws_url: `${core.baseUrl.replace(/^http/, 'ws')}/v1/sessions/ws/${s.id}`, livekit_url: s.url }, message: 'success' });
          core.joinLater(s.url, s.livekitToken, s.id);
        },
      },
      {
        method: 'POST',
        path: /^\/v1\/sessions\/stop$/,
        endpoint: 'stop',
        async handle(ctx) {
          const body = core.json(ctx, z.strictObject({ session_id: z.string(), reason: z.string().optional() }));
          if (!body) return;
          const s = sessionFor(ctx.headers.authorization, body.session_id);
          if (!s) return core.refuse(ctx, 401, 'stop needs the session token (Bearer) of that session');
          await core.endSession(s.id);
          for (const ws of s.sockets) ws.close(1000, 'session stopped');
          core.answer(ctx, 200, { code: 1000, data: null, message: 'success' });
        },
      },
    ],
    (req, socket, head) => onUpgrade(req, socket, head),
  );
  return fake;
}

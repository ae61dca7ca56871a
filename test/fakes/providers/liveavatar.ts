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
 *   `agent.speak_interrupted`, each carrying the event_id of the speech's first message.
 *
 * Event ids are optional grouping hints, as LiveAvatar documents them: a speech is the audio sent
 * from one `agent.speak_end` (or interrupt) to the next, whatever ids its messages carry, and
 * `agent.speak_end` may carry a fresh id or none (LiveKit's plugin sends a fresh one per message).
 * With `endWhenDry`, the avatar says `agent.speak_ended` whenever it has played all the audio it
 * received, even before `agent.speak_end` (a voice slower than real time), and
 * `agent.speak_started` again when more comes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { refuseUpgrade } from '../net.js';
import { bearer, jwt, ProviderCore, livekitUrl, type ProviderFake, type ProviderFakeOptions } from './common.js';

const tokenBody = z.strictObject({
  mode: z.literal('LITE'),
  avatar_id: z.string().min(1),
  is_sandbox: z.boolean().optional(),
  video_quality: z.enum(['very_high', 'high', 'medium', 'low']).optional(),
  livekit_config: z.strictObject({ livekit_room: z.string().min(1), livekit_url: livekitUrl, livekit_client_token: jwt }),
});

const eventId = z.string().optional();
const commandSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('agent.speak'), event_id: eventId, audio: z.base64() }),
  z.looseObject({ type: z.literal('agent.speak_end'), event_id: eventId }),
  z.looseObject({ type: z.literal('agent.interrupt'), event_id: eventId }),
  z.looseObject({ type: z.literal('agent.start_listening'), event_id: eventId }),
  z.looseObject({ type: z.literal('agent.stop_listening'), event_id: eventId }),
  z.looseObject({ type: z.literal('session.keep_alive'), event_id: eventId }),
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
  /** When true the avatar says speak_ended each time it has played all it received, speak_end or not. */
  endWhenDry: boolean;
  /** Its speak_started / speak_ended reach the client this much later (the wire, a busy avatar). */
  eventDelayMs: number;
  /** Each speak_started / speak_ended / speak_interrupted sent, in order, with when. */
  readonly events: { type: string; at: number }[];
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
  const events: { type: string; at: number }[] = [];
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
    endWhenDry: false,
    eventDelayMs: 0,
    events,
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
    const tell = (type: string, seg: LiveAvatarSpeech) => {
      if (fake.mute || seg.interrupted) return;
      events.push({ type, at: Date.now() });
      const message = { type, event_id: seg.eventId, task: { id: seg.eventId } };
      if (fake.eventDelayMs > 0) later(fake.eventDelayMs, () => send(message));
      else send(message);
    };
    send({ type: 'session.state_updated', state: 'connecting' });
    setTimeout(() => send({ type: 'session.state_updated', state: 'connected' }), 20);
    // The avatar's loudspeaker: when the audio received so far will have played out.
    let playheadAt = 0;
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, Math.max(0, ms));
      timers.add(t);
      return t;
    };
    /** The speech being received: audio since the last speak_end or interrupt. */
    let current: LiveAvatarSpeech | undefined;
    /** Per speech: when its audio so far plays out, and whether the avatar said it ran dry. */
    const play = new Map<LiveAvatarSpeech, { until: number; dry: boolean; dryTimer?: NodeJS.Timeout }>();
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
        const fresh = !current;
        if (!current) {
          current = { eventId: cmd.event_id ?? randomUUID(), pcm: [], messages: 0, firstAt: now, interrupted: false };
          speech.push(current);
          play.set(current, { until: 0, dry: false });
        }
        const seg = current;
        const p = play.get(seg)!;
        seg.pcm.push(pcm);
        seg.messages++;
        const startAt = Math.max(now, playheadAt);
        if (fresh || p.dry) {
          p.dry = false;
          later(startAt - now, () => tell('agent.speak_started', seg));
        }
        playheadAt = startAt + (pcm.length / 24_000) * 1000;
        p.until = playheadAt;
        if (p.dryTimer) clearTimeout(p.dryTimer);
        p.dryTimer = later(p.until - now, () => {
          // Played all it had while more may still come.
          if (seg.endedAt !== undefined || !fake.endWhenDry) return;
          p.dry = true;
          tell('agent.speak_ended', seg);
        });
      } else if (cmd.type === 'agent.speak_end') {
        // Nothing being received: a speak_end with nothing to end changes nothing.
        if (!current) return;
        const seg = current;
        current = undefined;
        seg.endedAt = now;
        const p = play.get(seg)!;
        // Already played out and said so (endWhenDry): nothing more to say.
        if (p.dry) return;
        later(p.until - now, () => tell('agent.speak_ended', seg));
      } else if (cmd.type === 'agent.interrupt') {
        interrupts.push(now);
        for (const t of timers) clearTimeout(t);
        timers.clear();
        playheadAt = now;
        for (const seg of speech) {
          if (!seg.interrupted && (seg.endedAt === undefined || seg.endedAt > now - 60_000)) {
            seg.interrupted = true;
            seg.endedAt ??= now;
            if (!fake.mute) {
              events.push({ type: 'agent.speak_interrupted', at: now });
              send({ type: 'agent.speak_interrupted', event_id: seg.eventId });
            }
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

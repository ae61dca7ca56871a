import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AvatarProfile } from '../../config/avatar-profile.js';
import type { AvatarKeys } from '../../config/config.js';
import { parseLaunchRequest, type LaunchTarget } from './launch-request.js';
import { RunnerSession, type RunnerSessionOptions } from './session.js';

export const LAUNCH_PATH = '/launch';
export const HEALTH_PATH = '/health';
/** 200 while this runner takes launches, 503 when at AVATAR_RUNNER_MAX_SESSIONS: a readiness probe keeps launches away from a full runner. */
export const READY_PATH = '/ready';

export interface RunnerServerOptions {
  launchSecret: string;
  profile: AvatarProfile;
  logger: Logger;
  maxSessions: number;
  /** Join here instead of the URL in the request (LIVEKIT_URL on the runner). */
  livekitUrlOverride?: string;
  keys?: AvatarKeys;
  /** Passed to every session (tests shorten the waits, or watch the frames through a sink of their own). */
  session?: Pick<RunnerSessionOptions, 'joinTimeoutMs' | 'agentWaitMs' | 'sink'>;
}

export interface AvatarRunnerServer {
  app: FastifyInstance;
  /** Sessions in progress, by id. */
  readonly sessions: ReadonlyMap<string, RunnerSession>;
  /** Ends every session (the avatars leave their rooms) and stops listening. */
  close(): Promise<void>;
}

/**
 * The avatar runner's HTTP face: `POST /launch {url, token}` (bearer AVATAR_LAUNCH_SECRET) sends
 * an avatar into a room; `GET /health` says it is up and how busy. Call `app.listen()`.
 */
export async function createRunnerServer(opts: RunnerServerOptions): Promise<AvatarRunnerServer> {
  const sessions = new Map<string, RunnerSession>();
  let starting = 0;
  const log = opts.logger;
  const expected = digest(opts.launchSecret);

  // Fastify's own request log is off: every line here is written by us, and none carries the
  // Authorization header or the token.
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  app.setErrorHandler((error: { statusCode?: number; message?: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) log.error({ err: error }, 'avatar runner request failed');
    return reply.status(status).send({ error: status >= 500 ? 'internal error' : (error.message ?? 'bad request') });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: 'not found' }));

  app.get(HEALTH_PATH, async () => ({ status: 'ok', avatar: opts.profile.name, sessions: sessions.size, maxSessions: opts.maxSessions }));
  app.get(READY_PATH, async (_request, reply) => {
    const full = sessions.size >= opts.maxSessions;
    return reply.status(full ? 503 : 200).send({ status: full ? 'full' : 'ready', sessions: sessions.size, maxSessions: opts.maxSessions });
  });

  app.post(LAUNCH_PATH, async (request, reply) => {
    if (!authorized(request.headers.authorization, expected)) {
      log.warn({ from: request.ip }, 'refused a launch without the right bearer secret');
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'missing or wrong bearer secret: send Authorization: Bearer <AVATAR_LAUNCH_SECRET>, the value this runner was started with' });
    }
    const parsed = parseLaunchRequest(request.body);
    if (!parsed.ok) return reply.status(400).send({ error: parsed.reason });
    if (sessions.size + starting >= opts.maxSessions) {
      log.warn({ sessions: sessions.size, max: opts.maxSessions }, 'refused a launch: at the session limit');
      return reply
        .status(503)
        .header('retry-after', '5')
        .send({ error: `this runner is at its limit of ${opts.maxSessions} avatar session(s); try again later, use another runner, or raise AVATAR_RUNNER_MAX_SESSIONS` });
    }
    const target: LaunchTarget = { ...parsed.target, ...(opts.livekitUrlOverride ? { url: opts.livekitUrlOverride } : {}) };
    starting++;
    let session: RunnerSession;
    try {
      session = await RunnerSession.start({
        target,
        profile: opts.profile,
        logger: log,
        ...(opts.keys ? { keys: opts.keys } : {}),
        ...opts.session,
      });
    } catch (err) {
      const reason = (err as Error).message;
      log.warn({ room: target.room, identity: target.identity, reason }, 'launch failed');
      return reply.status(502).send({ error: reason });
    } finally {
      starting--;
    }
    sessions.set(session.id, session);
    void session.ended.then((reason) => {
      sessions.delete(session.id);
      log.info({ session: session.id, room: session.roomName, reason }, 'avatar session ended');
    });
    return reply.send({ session: session.id, room: session.roomName, identity: session.identity });
  });

  return {
    app,
    sessions,
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.close('the runner is shutting down')));
      await app.close();
    },
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time: digests of equal length are compared, so neither the length nor a prefix leaks. */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = digest(match?.[1] ?? '');
  return timingSafeEqual(given, expected) && match !== null;
}

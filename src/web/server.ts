import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONNECTION_PATH, SHARED_KEY_HEADER } from './api.js';
import { parseConnectionRequest } from './connection-request.js';
import { mintConnection } from './connection.js';
import type { WebConfig } from './config.js';
import { checkProtection } from './protection.js';

export interface WebServerOptions {
  /** The built page (vite build → dist/web). Missing: `/` says how to build it. */
  staticDir?: string;
  logger?: FastifyBaseLogger;
}

/** The page and its token endpoint. Call `.listen()` on the result (port 0 in tests). */
export async function createWebServer(config: WebConfig, options: WebServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Behind a reverse proxy the client's address is the one the proxy appended to X-Forwarded-For,
    // believed only when the request comes from a listed proxy. Never `true`: that takes the
    // leftmost entry, which clients write themselves, and would give each request its own
    // rate-limit bucket.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies.join(',') : false,
    // A connection request is a few short names.
    bodyLimit: 4096,
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  // Every error leaves as { error: reason }. 5xx reasons stay in the log: they may name internals.
  app.setErrorHandler((error: { statusCode?: number; message?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(status).send({ error: status >= 500 ? 'internal error' : (error.message ?? 'bad request') });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: 'not found' }));

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `too many requests: at most ${context.max} per minute from one address; try again in ${context.after}`,
    }),
  });

  if (config.protection.allowedOrigins.length > 0) {
    // Front ends served from another listed origin may call the endpoint; the page itself is same-origin.
    await app.register(cors, {
      origin: config.protection.allowedOrigins,
      methods: ['POST'],
      allowedHeaders: ['content-type', SHARED_KEY_HEADER],
      maxAge: 600,
    });
  }

  app.post(
    CONNECTION_PATH,
    { config: { rateLimit: { max: config.rateLimitPerMinute, timeWindow: 60_000 } } },
    async (request, reply) => {
      // After the rate limit (onRequest), so guessing the key costs the same as asking for tokens.
      const verdict = checkProtection(config.protection, {
        origin: request.headers.origin,
        key: headerValue(request.headers[SHARED_KEY_HEADER]),
      });
      if (!verdict.ok) return reply.status(verdict.status).send({ error: verdict.reason });

      const parsed = parseConnectionRequest(request.body);
      if (!parsed.ok) return reply.status(400).send({ error: parsed.reason });

      const details = await mintConnection(config, parsed.request);
      request.log.info({ room: details.roomName }, 'token minted');
      return reply.header('cache-control', 'no-store').send(details);
    },
  );

  app.get('/healthz', async () => ({ ok: true }));

  const staticDir = options.staticDir ? resolve(options.staticDir) : undefined;
  if (staticDir && existsSync(join(staticDir, 'index.html'))) {
    await app.register(fastifyStatic, {
      root: staticDir,
      index: 'index.html',
      // Vite names assets by content hash: they never change, while index.html must be fresh.
      setHeaders: (reply, path) => {
        reply.header('cache-control', path.startsWith(join(staticDir, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  } else {
    app.get('/', async (_request, reply) =>
      reply.status(503).type('text/plain').send('The page is not built yet: run `npm run build:web` (or `npm run web`, which builds it).\n'),
    );
  }
  return app;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { RoomConfiguration, TokenVerifier } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/config.js';
import { loadWebConfig, type WebConfig } from '../src/web/config.js';
import { CONNECTION_PATH } from '../src/web/api.js';
import { createWebServer } from '../src/web/server.js';

/**
 * The token endpoint over real HTTP (Fastify on port 0, Node's fetch), tokens checked with the
 * LiveKit server SDK's own verifier.
 */

const API_KEY = 'APIwebtest';
const API_SECRET = 'web-test-secret-0123456789abcdefghijklmnop';
const SHARED_KEY = 'shared-key-0123456789abcdef';

function webConfig(env: NodeJS.ProcessEnv = {}): WebConfig {
  return loadWebConfig({
    LIVEKIT_URL: 'ws://livekit.internal:7880',
    LIVEKIT_PUBLIC_URL: 'wss://livekit.example.com',
    LIVEKIT_API_KEY: API_KEY,
    LIVEKIT_API_SECRET: API_SECRET,
    LIVEKIT_AGENT_NAME: 'avatar-agent',
    WEB_RATE_LIMIT_PER_MINUTE: '1000',
    ...env,
  });
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

/** Every answer any test got, to check afterwards that no secret ever left the server. */
const seen: Answer[] = [];

const servers: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(config: WebConfig, staticDir?: string): Promise<string> {
  const app = await createWebServer(config, staticDir ? { staticDir } : {});
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function call(base: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const method = init.method ?? 'POST';
  const hasBody = init.body !== undefined;
  const res = await fetch(base + path, {
    method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(hasBody ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON: the page */
  }
  const answer = { status: res.status, headers: res.headers, text, json };
  seen.push(answer);
  return answer;
}

const verifier = new TokenVerifier(API_KEY, API_SECRET);

describe('POST /api/connection', () => {
  it('mints a short-lived token with only the grants a caller needs, and dispatches the agent', async () => {
    const base = await start(webConfig());
    const before = Math.floor(Date.now() / 1000);
    const res = await call(base, CONNECTION_PATH, { body: {} });

    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(res.json).sort()).toEqual(['participantName', 'participantToken', 'roomName', 'serverUrl']);
    expect(res.json.serverUrl).toBe('wss://livekit.example.com');
    expect(res.json.participantName).toBe('Guest');
    expect(res.json.roomName).toMatch(/^avatar-[A-Za-z0-9_-]{12}$/);

    const claims = await verifier.verify(res.json.participantToken as string);
    expect(claims.iss).toBe(API_KEY);
    expect(claims.sub).toMatch(/^user-[A-Za-z0-9_-]{12}$/);
    expect(claims.name).toBe('Guest');
    expect(claims.video).toEqual({
      room: res.json.roomName,
      roomJoin: true,
      canPublish: true,
      canPublishSources: ['microphone'],
      canSubscribe: true,
      canPublishData: true,
      canUpdateOwnMetadata: false,
    });
    // 15 minutes by default, counted from now.
    expect(claims.exp! - claims.nbf!).toBe(900);
    expect(claims.exp!).toBeGreaterThanOrEqual(before + 900);
    expect(claims.exp!).toBeLessThanOrEqual(before + 902);

    const roomConfig = RoomConfiguration.fromJson(claims.roomConfig as never);
    expect(roomConfig.agents.map((a) => a.agentName)).toEqual(['avatar-agent']);
  });

  it('gives every conversation a fresh room and identity', async () => {
    const base = await start(webConfig());
    const a = await call(base, CONNECTION_PATH);
    const b = await call(base, CONNECTION_PATH, { body: {} });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.json.roomName).not.toBe(b.json.roomName);
    const [ca, cb] = await Promise.all([verifier.verify(a.json.participantToken as string), verifier.verify(b.json.participantToken as string)]);
    expect(ca.sub).not.toBe(cb.sub);
  });

  it('joins a named room, in the standard token-source request format, and keeps the agent its own', async () => {
    const base = await start(webConfig({ WEB_TOKEN_TTL_SECONDS: '300' }));
    // What livekit-client's TokenSource.endpoint sends (snake_case protobuf JSON), with an agent it may not pick.
    const res = await call(base, CONNECTION_PATH, {
      body: { room_name: 'demo-room_1', participant_name: 'Zoë Ada', participant_identity: 'zoe', room_config: { agents: [{ agent_name: 'someone-else' }] }, participant_metadata: '{"admin":true}' },
    });
    expect(res.status).toBe(200);
    expect(res.json.roomName).toBe('demo-room_1');
    expect(res.json.participantName).toBe('Zoë Ada');
    const claims = await verifier.verify(res.json.participantToken as string);
    expect(claims.video?.room).toBe('demo-room_1');
    expect(claims.sub).toMatch(/^zoe-[A-Za-z0-9_-]{12}$/);
    expect(claims.metadata).toBeUndefined();
    expect(claims.exp! - claims.nbf!).toBe(300);
    expect(RoomConfiguration.fromJson(claims.roomConfig as never).agents.map((a) => a.agentName)).toEqual(['avatar-agent']);

    const camel = await call(base, CONNECTION_PATH, { body: { roomName: 'demo-2', participantName: 'Bo' } });
    expect(camel.json).toMatchObject({ roomName: 'demo-2', participantName: 'Bo' });
  });

  it('carries no dispatch when no agent name is configured (automatic dispatch)', async () => {
    const base = await start(webConfig({ LIVEKIT_AGENT_NAME: '' }));
    const res = await call(base, CONNECTION_PATH, { body: {} });
    const claims = await verifier.verify(res.json.participantToken as string);
    expect(claims.roomConfig).toBeUndefined();
  });

  it.each([
    [{ room_name: 'bad room!' }, /room_name must be 1-64 letters, digits, _ or -/],
    [{ room_name: 'x'.repeat(65) }, /room_name must be 1-64/],
    [{ room_name: '' }, /room_name/],
    [{ roomName: '../admin' }, /roomName must be/],
    [{ participant_identity: 'a/b' }, /participant_identity must be 1-48 letters/],
    [{ participant_identity: 'i'.repeat(49) }, /participant_identity/],
    [{ participant_name: '<script>' }, /participant_name must be/],
    [{ participant_name: 'n'.repeat(65) }, /participant_name/],
    [{ room_name: 42 }, /room_name/],
    [[1, 2], /must be a JSON object/],
    ['{not json', /JSON/],
  ])('rejects %j with 400 and a reason', async (body, reason) => {
    const base = await start(webConfig());
    const res = await call(base, CONNECTION_PATH, { body });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(reason);
    expect(res.json.participantToken).toBeUndefined();
  });

  it('answers 429 past the per-IP rate limit, with a reason and when to retry', async () => {
    const base = await start(webConfig({ WEB_RATE_LIMIT_PER_MINUTE: '3' }));
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(base, CONNECTION_PATH, { body: {} })).status);
    const limited = await call(base, CONNECTION_PATH, { body: {} });
    expect(statuses).toEqual([200, 200, 200]);
    expect(limited.status).toBe(429);
    expect(limited.json.error).toMatch(/too many requests: at most 3 per minute/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Wrong keys count too: the limit is in front of the key check.
    expect((await call(base, CONNECTION_PATH, { body: {}, headers: { 'x-connection-key': 'guess' } })).status).toBe(429);
  });

  it('keys the rate limit on X-Forwarded-For only behind a trusted proxy', async () => {
    // The test's requests come from 127.0.0.1: the proxy, here.
    const trusted = await start(webConfig({ WEB_RATE_LIMIT_PER_MINUTE: '1', WEB_TRUST_PROXY: 'loopback' }));
    expect((await call(trusted, CONNECTION_PATH, { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(200);
    expect((await call(trusted, CONNECTION_PATH, { headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(200);
    expect((await call(trusted, CONNECTION_PATH, { headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(429);
    // What a client writes itself comes first; the proxy appends the address it saw: only that counts.
    expect((await call(trusted, CONNECTION_PATH, { headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.2' } })).status).toBe(429);

    const direct = await start(webConfig({ WEB_RATE_LIMIT_PER_MINUTE: '1' }));
    expect((await call(direct, CONNECTION_PATH, { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(200);
    expect((await call(direct, CONNECTION_PATH, { headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(429);
  });

  it('requires the shared key when one is configured', async () => {
    const base = await start(webConfig({ WEB_SHARED_KEY: SHARED_KEY }));
    const missing = await call(base, CONNECTION_PATH, { body: {} });
    expect(missing.status).toBe(401);
    expect(missing.json.error).toMatch(/access key required \(x-connection-key header\)/);
    const wrong = await call(base, CONNECTION_PATH, { body: {}, headers: { 'x-connection-key': `${SHARED_KEY}x` } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('wrong access key');
    const right = await call(base, CONNECTION_PATH, { body: {}, headers: { 'x-connection-key': SHARED_KEY } });
    expect(right.status).toBe(200);
    expect(right.json.participantToken).toBeTypeOf('string');
  });

  it('answers only the allowed origins, with CORS for them', async () => {
    const base = await start(webConfig({ WEB_ALLOWED_ORIGINS: 'https://avatar.example.com, https://www.example.com' }));
    const none = await call(base, CONNECTION_PATH, { body: {} });
    expect(none.status).toBe(403);
    expect(none.json.error).toMatch(/no Origin header/);
    const other = await call(base, CONNECTION_PATH, { body: {}, headers: { origin: 'https://evil.example.net' } });
    expect(other.status).toBe(403);
    expect(other.json.error).toBe('origin not allowed: https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await call(base, CONNECTION_PATH, {
      method: 'OPTIONS',
      headers: { origin: 'https://www.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://www.example.com');

    const allowed = await call(base, CONNECTION_PATH, { body: {}, headers: { origin: 'https://avatar.example.com' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://avatar.example.com');
  });

  it('combines origin and key checks', async () => {
    const base = await start(webConfig({ WEB_ALLOWED_ORIGINS: 'https://avatar.example.com', WEB_SHARED_KEY: SHARED_KEY }));
    const origin = { origin: 'https://avatar.example.com' };
    expect((await call(base, CONNECTION_PATH, { body: {}, headers: origin })).status).toBe(401);
    expect((await call(base, CONNECTION_PATH, { body: {}, headers: { origin: 'https://x.example', 'x-connection-key': SHARED_KEY } })).status).toBe(403);
    expect((await call(base, CONNECTION_PATH, { body: {}, headers: { ...origin, 'x-connection-key': SHARED_KEY } })).status).toBe(200);
  });
});

describe('the page', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'web-page-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>avatar</title><div id="root"></div>');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is served from the built folder', async () => {
    const base = await start(webConfig(), dir);
    const page = await call(base, '/', { method: 'GET' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.text).toContain('<div id="root">');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const asset = await call(base, '/assets/index-abc123.js', { method: 'GET' });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await call(base, '/nothing-here.js', { method: 'GET' })).status).toBe(404);
    expect((await call(base, '/healthz', { method: 'GET' })).json).toEqual({ ok: true });
  });

  it('says how to build it when it is not built', async () => {
    const base = await start(webConfig(), join(dir, 'missing'));
    const page = await call(base, '/', { method: 'GET' });
    expect(page.status).toBe(503);
    expect(page.text).toMatch(/npm run build:web/);
  });
});

describe('web config', () => {
  it('falls back to LIVEKIT_URL for browsers and to safe defaults', () => {
    const c = loadWebConfig({});
    expect(c.livekit.publicUrl).toBe('ws://localhost:7880');
    expect(c).toMatchObject({ host: '127.0.0.1', port: 3000, tokenTtlSeconds: 900, rateLimitPerMinute: 10, trustedProxies: [] });
    expect(loadWebConfig({ WEB_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustedProxies).toEqual(['loopback', '10.0.0.0/8']);
    expect(c.protection).toEqual({ allowedOrigins: [] });
  });

  it('names the variable and never echoes a secret', () => {
    const error = (env: NodeJS.ProcessEnv) => {
      try {
        loadWebConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err;
      }
      throw new Error('expected a ConfigError');
    };
    expect(error({ WEB_ALLOWED_ORIGINS: 'https://ok.example,https://bad.example/path' }).message).toMatch(/^WEB_ALLOWED_ORIGINS must be a comma-separated list of origins/);
    const short = error({ WEB_SHARED_KEY: 'tooshort' });
    expect(short.variable).toBe('WEB_SHARED_KEY');
    expect(short.message).toMatch(/at least 16 characters \(got set\)/);
    expect(short.message).not.toContain('tooshort');
    expect(error({ WEB_PORT: 'eighty' }).message).toMatch(/^WEB_PORT must be a port number/);
    expect(error({ WEB_TRUST_PROXY: 'true' }).message).toMatch(/^WEB_TRUST_PROXY must list your reverse proxies/);
  });
});

describe('secrets', () => {
  it('never leave the server, in any body or header', () => {
    // Runs last in this file (vitest keeps declaration order): `seen` holds every answer above,
    // 200s, 400s, 401s, 403s, 429s, 404s, 503s and the page.
    expect(seen.length).toBeGreaterThan(40);
    expect(new Set(seen.map((a) => a.status))).toEqual(new Set([200, 204, 400, 401, 403, 404, 429, 503]));
    for (const answer of seen) {
      const headers = [...answer.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
      for (const secret of [API_SECRET, SHARED_KEY]) {
        expect(answer.text).not.toContain(secret);
        expect(headers).not.toContain(secret);
      }
    }
  });
});

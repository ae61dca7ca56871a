import type { FastifyInstance } from 'fastify';
import { TokenVerifier } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebConfig } from '../../src/web/config';
import { createWebServer } from '../../src/web/server';
import { describeProblem } from '../../web/src/connection/start-problem';
import { connectionTokenSource } from '../../web/src/connection/token-source';

/**
 * The page's token source (livekit-client's TokenSource.endpoint, as the page builds it) against
 * the real endpoint: the two speak the same format, and the page reads the endpoint's refusals.
 */

const SECRET = 'token-source-test-secret-0123456789abcdef';
const KEY = 'token-source-shared-key-0123';
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  const config = loadWebConfig({ LIVEKIT_API_KEY: 'APIts', LIVEKIT_API_SECRET: SECRET, LIVEKIT_AGENT_NAME: 'avatar-agent', WEB_SHARED_KEY: KEY, WEB_RATE_LIMIT_PER_MINUTE: '5' });
  app = await createWebServer(config);
  url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/api/connection`;
});
afterAll(() => app.close());

describe("the page's token source", () => {
  it('gets a token the server minted, in the room and with the agent the server chose', async () => {
    const details = await connectionTokenSource(KEY, url).fetch({ roomName: 'demo', participantName: 'Ada', agentName: 'not-this-one' });
    expect(details.serverUrl).toBe('ws://localhost:7880');
    const claims = await new TokenVerifier('APIts', SECRET).verify(details.participantToken);
    expect(claims.video?.room).toBe('demo');
    expect(claims.name).toBe('Ada');
    expect((claims.roomConfig as { agents: { agentName: string }[] }).agents.map((a) => a.agentName)).toEqual(['avatar-agent']);
  });

  it('reads the refusals: no key, then too many requests', async () => {
    const noKey = await connectionTokenSource(undefined, url).fetch({}).catch((e: unknown) => e);
    expect(describeProblem(noKey, true)).toEqual({ kind: 'access-key', message: 'Access key needed: access key required (x-connection-key header).' });
    let last: unknown;
    for (let i = 0; i < 6; i++) last = await connectionTokenSource(KEY, url).fetch({ roomName: `r${i}` }).catch((e: unknown) => e);
    expect(describeProblem(last, true)).toMatchObject({ kind: 'rate-limited', message: expect.stringMatching(/^Too many calls from this address just now\. too many requests: at most 5 per minute/) });
  });

  it('names a blocked microphone, a missing one and an insecure page', () => {
    expect(describeProblem(new DOMException('denied', 'NotAllowedError'), true).kind).toBe('microphone-denied');
    expect(describeProblem(new DOMException('none', 'NotFoundError'), true).kind).toBe('no-microphone');
    expect(describeProblem(new DOMException('busy', 'NotReadableError'), true).kind).toBe('microphone-busy');
    expect(describeProblem(new TypeError("Cannot read properties of undefined (reading 'getUserMedia')"), false).kind).toBe('insecure-page');
    expect(describeProblem(new Error('could not establish signal connection'), true)).toEqual({ kind: 'network', message: 'Could not connect: could not establish signal connection' });
  });
});

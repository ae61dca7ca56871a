/**
 * The pieces a browser test of the whole product runs against, and what it reports when a step
 * fails: the real worker (a child process), the LiveKit-protocol test server, the provider fakes,
 * the page (built fresh, served by the web server in the test's process) and Chromium.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { loadWebConfig } from '../../src/web/config.js';
import { createWebServer } from '../../src/web/server.js';
import type { FakeDeepgram } from '../fakes/deepgram.js';
import type { FakeOpenAI } from '../fakes/openai.js';
import { waitFor } from '../fakes/wait.js';
import { REPO_ROOT, type WorkerProcess } from '../e2e/worker-process.js';
import type { TestLiveKitServer } from '../livekit-server/index.js';
import { peerConnectionStats, type BrowserSession } from './browser.js';

/** What a test has started so far (any of it may be missing when a setup step fails). */
export interface Stack {
  worker?: WorkerProcess;
  server?: TestLiveKitServer;
  deepgram?: FakeDeepgram;
  openai?: FakeOpenAI;
  browser?: BrowserSession;
}

/**
 * The worker's environment for a call through the test server with the fakes as its providers
 * (Deepgram STT, OpenAI-compatible LLM and TTS); `extra` adds or overrides.
 */
export function workerEnv(server: TestLiveKitServer, deepgram: FakeDeepgram, openai: FakeOpenAI, extra: Record<string, string>): Record<string, string> {
  return {
    LIVEKIT_URL: server.url,
    LIVEKIT_API_KEY: server.apiKey,
    LIVEKIT_API_SECRET: server.apiSecret,
    STT_PROVIDER: 'deepgram',
    DEEPGRAM_API_KEY: 'dg-e2e-key',
    STT_BASE_URL: deepgram.baseUrl,
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-e2e-key',
    LLM_BASE_URL: openai.baseURL,
    TTS_PROVIDER: 'openai',
    TTS_BASE_URL: openai.baseURL,
    AVATARS_DIR: join(REPO_ROOT, 'avatars'),
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    // In dev mode agents 1.9 turns on adaptive interruption, a LiveKit Cloud service
    // (agent-gateway.livekit.cloud): refused on loopback instead, it falls back to VAD
    // interruption and the test never leaves this machine.
    LIVEKIT_INFERENCE_URL: 'http://127.0.0.1:9/v1',
    ...extra,
  };
}

/** The page (built into `pageDir`) served by the web server, minting tokens that dispatch `agentName`. */
export async function servePage(server: TestLiveKitServer, agentName: string, pageDir: string): Promise<{ web: FastifyInstance; url: string }> {
  const web = await createWebServer(
    loadWebConfig({
      LIVEKIT_URL: server.url,
      LIVEKIT_API_KEY: server.apiKey,
      LIVEKIT_API_SECRET: server.apiSecret,
      LIVEKIT_AGENT_NAME: agentName,
      WEB_RATE_LIMIT_PER_MINUTE: '100',
    }),
    { staticDir: pageDir },
  );
  return { web, url: `${await web.listen({ host: '127.0.0.1', port: 0 })}/` };
}

/** Waits (bounded) until the worker has registered `agentName` with the test server. */
export async function workerRegistered(stack: Required<Pick<Stack, 'server' | 'worker'>>, agentName: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!stack.server.workers().some((w) => w.agentName === agentName)) {
    if (stack.worker.exit !== undefined) throw new Error(`the worker exited (${stack.worker.exit}) before registering`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Everything the worker, the test server, the fakes and the page said: appended to a failure. */
export async function diagnostics(stack: Stack, page?: Page): Promise<string> {
  const { worker, server, deepgram, openai, browser } = stack;
  const parts = [
    `--- worker (${worker?.exit === undefined ? 'running' : `exited: ${worker.exit}`}), last lines:\n${worker?.tail(60) ?? ''}`,
    `--- test server, last lines:\n${(server?.logs ?? []).slice(-40).map((l) => `${l.level} ${l.msg}`).join('\n')}`,
    `--- rooms: ${JSON.stringify(server?.rooms().map((r) => ({ name: r.name, participants: r.participants.map((p) => ({ identity: p.identity, subscribedTo: p.subscribedTo, tracks: p.tracks })) })))}`,
    `--- jobs: ${JSON.stringify(server?.jobs())}`,
    `--- fakes: deepgram heard ${deepgram?.utterances ?? 0} utterance(s) over ${deepgram?.requests.length ?? 0} connection(s); openai requests: ${openai?.requests.map((r) => r.endpoint).join(', ') || 'none'}`,
    // Chromium prints failed WebSocket URLs whole; the test tokens are worthless, but unreadable.
    `--- page console, last lines:\n${(browser?.console ?? []).slice(-40).map((l) => l.replace(/(access_token=|join_request=)[^&\s']+/g, '$1…')).join('\n')}`,
  ];
  if (page) {
    parts.push(`--- page text: ${JSON.stringify((await page.locator('main').innerText({ timeout: 1_000 }).catch(() => '(unavailable)')).slice(0, 600))}`);
    parts.push(`--- page peer connections: ${JSON.stringify(await peerConnectionStats(page))}`);
  }
  return parts.join('\n');
}

/** Runs one step of a scenario; a failure names the step and carries the diagnostics. */
export async function step<T>(stack: Stack, what: string, page: Page | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${what}: ${message}\n${await diagnostics(stack, page)}`, { cause: error });
  }
}

/** Opens the page, clicks "Start conversation" and waits for the new room its user joined: that room's name. */
export async function startPageCall(page: Page, pageUrl: string, server: TestLiveKitServer, ms: number): Promise<string> {
  const before = new Set(server.rooms().map((r) => r.name));
  await page.goto(pageUrl);
  await page.getByRole('button', { name: 'Start conversation' }).click({ timeout: 30_000 });
  let roomName = '';
  await waitFor(
    () => {
      roomName = server.rooms().find((x) => !before.has(x.name) && x.participants.some((p) => p.identity.startsWith('user-')))?.name ?? '';
      return !!roomName;
    },
    ms,
    "the page's room",
  );
  return roomName;
}

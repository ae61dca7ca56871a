import { initializeLogger, type voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { createServer } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { diffusionAdapter, splatAdapter } from '../src/avatar/renderer/adapters.js';
import { diffusionProfileSchema, splatProfileSchema, type DiffusionProfile } from '../src/avatar/renderer/profiles.js';
import { RendererOutput } from '../src/avatar/renderer/renderer-output.js';
import { createLogger } from '../src/logging.js';
import { measureLipSync, startFakeRenderer, type RendererKnobs } from './fakes/renderer.js';
import { synthesize } from './fakes/speech.js';
import { withTimeout } from './fakes/wait.js';

const RATE = 24000;
const SECRET = 'renderer-test-secret-0123456789';
beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function logCollector() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', secrets: [SECRET], destination: { write: (line: string) => void lines.push(line) } });
  return { lines, logger };
}

function diffusion(url: string, extra: Record<string, unknown> = {}): DiffusionProfile {
  return { ...diffusionProfileSchema.parse({ adapter: 'diffusion', url, avatarId: 'reference', ...extra }), name: 'gpu' };
}

async function renderer(knobs: RendererKnobs = {}, opts: { avatars?: string[] } = {}) {
  const r = await startFakeRenderer({ secret: SECRET, knobs, ...opts });
  cleanups.push(() => r.renderer.close());
  return r;
}

async function speak(output: RendererOutput, samples: Int16Array): Promise<void> {
  const step = RATE / 50;
  for (let at = 0; at < samples.length; at += step) {
    const piece = samples.slice(at, Math.min(samples.length, at + step));
    await output.captureFrame(new AudioFrame(piece, RATE, 1, piece.length));
  }
  output.flush();
}

async function startOutput(profile: DiffusionProfile) {
  const sink = new MemoryMediaSink();
  const { lines, logger } = logCollector();
  const output = new RendererOutput({ profile, sink, logger, secret: SECRET });
  const finished: { playbackPosition: number; interrupted: boolean }[] = [];
  output.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => finished.push(ev));
  await output.start();
  cleanups.push(() => output.close());
  return { output, sink, finished, lines };
}

/** A loopback port with nothing listening. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const stillPending = async (p: Promise<unknown>, ms = 50) => (await Promise.race([p.then(() => 'settled'), new Promise((r) => setTimeout(() => r('pending'), ms))])) === 'pending';

describe('renderer faults mid-call', () => {
  it('reconnects after a disconnect mid-sentence: the voice never stops and the lips come back in sync', async () => {
    const { renderer: fake, url } = await renderer({ disconnectAfterFrames: 15 });
    const { output, sink, finished, lines } = await startOutput(diffusion(url, { reconnect: { attempts: 4, initialDelayMs: 100, maxDelayMs: 1000 } }));
    const speech = await synthesize('Could you tell me a little more about what happened, and when it started?', { sampleRate: RATE });
    await speak(output, speech.samples);
    await withTimeout(output.waitForPlayout(), 20_000, 'playout');

    expect(fake.disconnects).toBe(1);
    expect(output.clientStats.reconnects).toBe(1);
    expect(finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
    const sync = measureLipSync(sink, speech.samples);
    expect(sync.maxFreshErrorMs).toBeLessThanOrEqual(40);
    // After the reconnect the renderer picks up where playout is: most of the reply has fresh lips.
    expect(sync.fresh).toBeGreaterThan(sync.speechFrames * 0.5);
    expect(await stillPending(output.lost)).toBe(true);
    expect(lines.join('')).toMatch(/renderer connection lost mid-call; reconnecting/);
    expect(lines.join('')).toMatch(/renderer reconnected/);
  });

  it('when the renderer stays gone, `lost` resolves with why, and the reply still plays to the end', async () => {
    const { renderer: fake, url } = await renderer({ disconnectAfterFrames: 10 });
    const { output, finished, lines } = await startOutput(diffusion(url, { reconnect: { attempts: 2, initialDelayMs: 100, maxDelayMs: 200 } }));
    const speech = await synthesize('The quick brown fox jumps over the lazy dog, twice.', { sampleRate: RATE });
    const closing = (async () => {
      while (fake.disconnects === 0) await new Promise((r) => setTimeout(r, 10));
      await fake.close(); // the GPU host is down
    })();
    await speak(output, speech.samples);
    const reason = await withTimeout(output.lost, 10_000, 'lost');
    await closing;
    expect(reason).toMatch(/renderer at ws:\/\/127\.0\.0\.1:\d+\/v1\/render is gone: .*2 reconnect attempt\(s\) failed.*ECONNREFUSED/);
    expect(reason).not.toContain(SECRET);
    await withTimeout(output.waitForPlayout(), 20_000, 'playout');
    expect(finished).toEqual([{ playbackPosition: speech.samples.length / RATE, interrupted: false }]);
    expect(lines.join('')).not.toContain(SECRET);
  });

  it('drops a renderer that sends nothing but garbage and starts a fresh session', async () => {
    const { url, renderer: fake } = await renderer({ malformed: 'payload', malformedEvery: 1 });
    const { output, finished, lines } = await startOutput(diffusion(url, { reconnect: { attempts: 2, initialDelayMs: 100, maxDelayMs: 200 } }));
    const speech = await synthesize('Could you tell me a little more about what happened, and when it started?', { sampleRate: RATE });
    const speaking = speak(output, speech.samples);
    await withTimeout(
      (async () => {
        while (output.clientStats.reconnects === 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      10_000,
      'a reconnect',
    );
    fake.knobs.set({ malformed: undefined });
    await speaking;
    await withTimeout(output.waitForPlayout(), 20_000, 'playout');
    expect(finished).toHaveLength(1);
    expect(lines.join('')).toMatch(/50 bad frames in a row/);
  });
});

describe('renderer adapters: attach fails fast and clearly (the registry falls back)', () => {
  const ctx = (logger = logCollector().logger) => {
    const session = { output: { audio: null } } as unknown as voice.AgentSession;
    return { session, sink: new MemoryMediaSink(), logger, keys: { rendererSecret: SECRET } };
  };

  it('attaches: sets the session audio output, exposes timings and lost, closes cleanly', async () => {
    const { url } = await renderer();
    const c = ctx();
    const handle = await diffusionAdapter(diffusion(url)).attach(c);
    expect(c.session.output.audio).toBeInstanceOf(RendererOutput);
    expect(handle.timings).toBe(c.session.output.audio);
    expect(await stillPending(handle.lost!)).toBe(true);
    await handle.close();
  });

  const failures: { name: string; make: () => Promise<{ profile: DiffusionProfile; secret?: string }>; error: RegExp }[] = [
    {
      name: 'nothing listening',
      make: async () => ({ profile: diffusion(`ws://127.0.0.1:${await deadPort()}/v1/render`) }),
      error: /^diffusion avatar gpu: renderer at ws:\/\/127\.0\.0\.1:\d+\/v1\/render could not be reached \(ECONNREFUSED\).*is the renderer running/,
    },
    {
      name: 'a wrong secret',
      make: async () => ({ profile: diffusion((await renderer()).url), secret: 'not-the-secret-at-all-xyz' }),
      error: /refused the secret \(HTTP 401\): set AVATAR_RENDERER_SECRET to the secret the renderer expects/,
    },
    { name: 'no secret', make: async () => ({ profile: diffusion((await renderer()).url), secret: '' }), error: /requires a secret \(HTTP 401\): set AVATAR_RENDERER_SECRET/ },
    {
      name: 'a renderer that never answers the start',
      make: async () => ({ profile: diffusion((await renderer({ fault: 'hang' })).url, { startTimeoutMs: 800 }) }),
      error: /did not answer the session start with ready within 800 ms/,
    },
    { name: 'a crashed renderer', make: async () => ({ profile: diffusion((await renderer({ fault: 'http500' })).url) }), error: /answered HTTP 500 instead of a websocket/ },
    {
      name: 'an avatar the renderer does not have',
      make: async () => ({ profile: diffusion((await renderer({}, { avatars: ['alice', 'bob'] })).url, { avatarId: 'carol' }) }),
      error: /refused the session: unknown_avatar: no avatar carol; this renderer has: alice, bob/,
    },
    {
      name: 'a wrong path in the url',
      make: async () => ({ profile: diffusion((await renderer()).url.replace('/v1/render', '/v2/render')) }),
      error: /answered HTTP 404 instead of a websocket; check the profile's url/,
    },
  ];
  for (const f of failures) {
    it(`with ${f.name}`, async () => {
      const { profile, secret } = await f.make();
      const { lines, logger } = logCollector();
      const c = { ...ctx(logger), keys: { rendererSecret: secret ?? SECRET } };
      if (secret === '') c.keys = { rendererSecret: undefined as unknown as string };
      const t0 = Date.now();
      const err = await diffusionAdapter(profile).attach(c).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(f.error);
      expect(err!.message).not.toContain(SECRET);
      expect(lines.join('')).not.toContain(SECRET);
      expect(Date.now() - t0).toBeLessThan(profile.startTimeoutMs + 1000);
      expect(c.session.output.audio).toBeNull();
    });
  }

  it('the splat adapter asks the renderer for blendshape input by default', async () => {
    const { url, renderer: fake } = await renderer();
    const profile = { ...splatProfileSchema.parse({ adapter: 'splat', url, avatarId: 'lam' }), name: 'splat' };
    const handle = await splatAdapter(profile).attach(ctx());
    expect([...fake.sessions][0]!.start!.input).toEqual({ kind: 'blendshapes', names: expect.arrayContaining(['jawOpen', 'mouthFunnel']) });
    await handle.close();
  });
});

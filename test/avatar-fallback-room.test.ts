/**
 * The fallback chain as a user in the room lives it: a profile `tavus → default (builtin)` on the
 * LiveKit-protocol test server, with the Tavus API faked and its avatar a fake participant. When
 * the provider refuses, or its avatar never publishes, the builtin face starts at once; when the
 * avatar leaves mid-call, the builtin face takes over the session's voice. Each time the agent's
 * participant attributes tell the front end which avatar shows and why, and the call goes on.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose, TrackSource, type Room } from '@livekit/rtc-node';
import { LocalAvatarOutput } from '../src/avatar/local/avatar-output.js';
import { attachAvatar, type AttachedAvatar } from '../src/avatar/registry.js';
import { RemoteAudioOutput } from '../src/avatar/remote/remote-output.js';
import { createLogger } from '../src/logging.js';
import { startFakeAvatar, type FakeAvatarKnobs } from './fakes/avatar-participant.js';
import { startFakeTavus, type FakeTavus } from './fakes/providers/index.js';
import { withTimeout } from './fakes/wait.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, waitUntil } from './livekit-server/testing.js';

const KEY = 'tavus-key-0123456789';
const logger = createLogger({ level: 'error' });
let server: TestLiveKitServer;
let dir: string;
let seq = 0;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
  dir = await mkdtemp(join(tmpdir(), 'fallback-avatars-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
  await dispose();
});

interface Call {
  agent: Room;
  user: Room;
  tavus: FakeTavus;
  avatar: AttachedAvatar;
  session: voice.AgentSession;
  attachMs: number;
}

/** An agent and a user in a fresh room; the agent attaches the `tavus → face` profile. */
async function call(knobs: Partial<FakeAvatarKnobs> & { leaveAfterMs?: number } = {}, providerStatus?: number, noAvatar = false): Promise<Call> {
  const roomName = `fallback-${++seq}`;
  const agent = (await connectClient(server, { identity: `agent-${seq}`, room: roomName, kind: 'agent' })).room;
  const user = (await connectClient(server, { identity: `user-${seq}`, room: roomName })).room;
  cleanups.push(() => agent.disconnect(), () => user.disconnect());
  const tavus = await startFakeTavus({
    apiKey: KEY,
    livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret },
    joinAvatar: async ({ url, token }) => {
      const a = await startFakeAvatar({ url, token, ...knobs });
      cleanups.push(() => a.leave());
      return a;
    },
    knobs: { ...(providerStatus ? { status: providerStatus } : {}), ...(noAvatar ? { noAvatar } : {}) },
  });
  cleanups.push(() => tavus.close());
  await mkdir(join(dir, 'face'), { recursive: true });
  await writeFile(join(dir, 'face', 'avatar.json'), JSON.stringify({ adapter: 'builtin' }));
  await mkdir(join(dir, 'tavus'), { recursive: true });
  await writeFile(join(dir, 'tavus', 'avatar.json'), JSON.stringify({ adapter: 'tavus', palId: 'p-echo-1', apiUrl: tavus.baseUrl, joinTimeoutMs: 4000, firstVideoTimeoutMs: 4000, fallback: ['face'] }));
  const session = new voice.AgentSession({});
  const started = performance.now();
  const avatar = await attachAvatar(
    { session, room: agent, logger, keys: { tavus: KEY }, livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret } },
    dir,
    'tavus',
  );
  const attachMs = performance.now() - started;
  cleanups.push(() => avatar.close());
  return { agent, user, tavus, avatar, session, attachMs };
}

/** What the user's front end reads: the agent participant's avatar attributes. */
function avatarAttributes(c: Call): Record<string, string> {
  const p = c.user.remoteParticipants.get(c.agent.localParticipant!.identity);
  return p?.attributes ?? {};
}

function agentPublishesVideo(c: Call): boolean {
  const p = c.user.remoteParticipants.get(c.agent.localParticipant!.identity);
  return [...(p?.trackPublications.values() ?? [])].some((t) => t.source === TrackSource.SOURCE_CAMERA);
}

async function speak(output: voice.AudioOutput, ms: number): Promise<void> {
  const rate = output.sampleRate ?? 24_000;
  const n = rate / 50;
  for (let t = 0, k = 0; t < ms; t += 20) {
    const data = new Int16Array(n);
    for (let i = 0; i < n; i++, k++) data[i] = Math.round(9000 * Math.sin((2 * Math.PI * 300 * k) / rate));
    await output.captureFrame(new AudioFrame(data, rate, 1, n));
  }
  output.flush();
}

describe('avatar fallback in a room', () => {
  it('the provider refuses (402): the builtin face starts at once, and the room is told why', async () => {
    const c = await call({}, 402);
    expect(c.avatar.handle.profile.name).toBe('face');
    expect(c.session.output.audio).toBeInstanceOf(LocalAvatarOutput);
    await waitUntil(() => avatarAttributes(c)['avatar.profile'] === 'face', 5_000, 'the attributes to name the builtin face');
    expect(avatarAttributes(c)['avatar.adapter']).toBe('builtin');
    expect(avatarAttributes(c)['avatar.fallback_reason']).toMatch(/^tavus: .*402/);
    expect(avatarAttributes(c)['avatar.fallback_reason']).not.toContain(KEY);
    await waitUntil(() => agentPublishesVideo(c), 5_000, 'the agent to publish the builtin face');
    expect(c.attachMs).toBeLessThan(3_000);
  });

  it("the provider's avatar never publishes video: the builtin face starts after its first-video deadline", async () => {
    const c = await call({ neverPublishVideo: true });
    expect(c.avatar.handle.profile.name).toBe('face');
    expect(c.avatar.fallbacks[0]?.reason).toMatch(/video|publish|time/i);
    expect(c.attachMs).toBeGreaterThanOrEqual(3_900);
    await waitUntil(() => agentPublishesVideo(c), 5_000, 'the agent to publish the builtin face');
  });

  it('the avatar leaves mid-call: the builtin face takes over the voice, and the call goes on', async () => {
    const c = await call({ leaveAfterMs: 2_500 });
    expect(c.avatar.handle.profile.name).toBe('tavus');
    expect(c.session.output.audio).toBeInstanceOf(RemoteAudioOutput);
    const fellBack = new Promise<string>((resolve) => c.avatar.onFallback((f) => resolve(f.reason)));
    // A reply is under way when the avatar leaves: it must end (interrupted), not hang the turn.
    const remote = c.session.output.audio as RemoteAudioOutput;
    await speak(remote, 4_000);
    const played = await withTimeout(remote.waitForPlayout(), 15_000, 'the reply the lost avatar was playing to end');
    expect(played.interrupted).toBe(true);
    expect(await withTimeout(fellBack, 10_000, 'the fallback')).toMatch(/left|lost|disconnect|video/i);
    expect(c.avatar.handle.profile.name).toBe('face');
    await waitUntil(() => avatarAttributes(c)['avatar.profile'] === 'face', 5_000, 'the attributes to name the builtin face');
    await waitUntil(() => agentPublishesVideo(c), 5_000, 'the agent to publish the builtin face');
    // The next reply plays through the builtin face.
    const local = c.session.output.audio as LocalAvatarOutput;
    expect(local).toBeInstanceOf(LocalAvatarOutput);
    await speak(local, 600);
    const next = await withTimeout(local.waitForPlayout(), 10_000, 'the next reply to play');
    expect(next.interrupted).toBe(false);
    expect(next.playbackPosition).toBeGreaterThan(0.5);
  });
});

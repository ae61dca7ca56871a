/**
 * The client avatar's negotiation as viewers live it, on the LiveKit-protocol test server: the
 * worker publishes voice only and names what to draw (`avatar.client`); a viewer that says it can
 * draw it keeps it; a viewer that never says so (an rtc-node front end) gets server video after the
 * window; a viewer whose renderer fails gets the next renderer in the chain, then server video.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { dispose, TrackSource, type Room } from '@livekit/rtc-node';
import {
  AVATAR_ATTRIBUTES,
  CLIENT_AVATAR_VERSION,
  RPC_CLIENT_FAILED,
  RPC_CLIENT_READY,
  readClientAvatarSpec,
  type ClientFailed,
  type ClientReady,
} from '../src/avatar/client/protocol.js';
import { attachAvatar, type AttachedAvatar } from '../src/avatar/registry.js';
import { AvatarProfileError, loadAvatarProfile } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';
import { withTimeout } from './fakes/wait.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, waitUntil } from './livekit-server/testing.js';

const WINDOW_MS = 600;
const logger = createLogger({ level: 'error' });
let server: TestLiveKitServer;
let dir: string;
let seq = 0;
const cleanups: (() => Promise<unknown>)[] = [];

async function profile(name: string, json: object): Promise<void> {
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(join(dir, name, 'avatar.json'), JSON.stringify(json));
}

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
  dir = await mkdtemp(join(tmpdir(), 'client-avatars-'));
  await profile('face', { adapter: 'builtin' });
  await profile('face2d', { adapter: 'client', renderer: 'face2d', announceTimeoutMs: WINDOW_MS, fallback: ['face'] });
  await profile('head', { adapter: 'client', renderer: 'gltf', asset: '/assets/head.glb', announceTimeoutMs: WINDOW_MS, fallback: ['face2d'] });
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
  avatar: AttachedAvatar;
  fallbacks: string[];
}

async function call(name: string): Promise<Call> {
  const roomName = `client-${++seq}`;
  const agent = (await connectClient(server, { identity: `agent-${seq}`, room: roomName, kind: 'agent' })).room;
  const user = (await connectClient(server, { identity: `user-${seq}`, room: roomName })).room;
  cleanups.push(() => agent.disconnect(), () => user.disconnect());
  const avatar = await attachAvatar({ session: new voice.AgentSession({}), room: agent, logger }, dir, name);
  cleanups.push(() => avatar.close());
  const fallbacks: string[] = [];
  avatar.onFallback((f) => fallbacks.push(`${f.profile}: ${f.reason}`));
  return { agent, user, avatar, fallbacks };
}

const attributes = (c: Call) => c.user.remoteParticipants.get(c.agent.localParticipant!.identity)?.attributes ?? {};
const agentTracks = (c: Call) => [...(c.user.remoteParticipants.get(c.agent.localParticipant!.identity)?.trackPublications.values() ?? [])];
const publishesVideo = (c: Call) => agentTracks(c).some((t) => t.source === TrackSource.SOURCE_CAMERA);

/** The viewer's side of the protocol (what web/src/avatar does), over RPC from the user's participant. */
async function rpc(c: Call, method: string, payload: ClientReady | ClientFailed): Promise<string> {
  return c.user.localParticipant!.performRpc({ destinationIdentity: c.agent.localParticipant!.identity, method, payload: JSON.stringify(payload) });
}

async function specShown(c: Call, profileName: string) {
  await waitUntil(() => readClientAvatarSpec(attributes(c))?.profile === profileName, 5_000, `the agent to ask for ${profileName}`);
  return readClientAvatarSpec(attributes(c))!;
}

describe('client avatar profiles', () => {
  it('need an asset for gltf and splat, not for face2d', async () => {
    await profile('no-asset', { adapter: 'client', renderer: 'gltf' });
    await expect(loadAvatarProfile(dir, 'no-asset')).rejects.toThrow(AvatarProfileError);
    await expect(loadAvatarProfile(dir, 'no-asset')).rejects.toThrow(/asset is required for the gltf renderer/);
    const p = await loadAvatarProfile(dir, 'face2d');
    expect(p).toMatchObject({ adapter: 'client', renderer: 'face2d', seed: 1, style: {}, announceTimeoutMs: WINDOW_MS, sampleRate: 24000 });
  });
});

describe('client avatar negotiation in a room', () => {
  it('a viewer that can draw it keeps it: voice only from the worker, the spec in the attributes', async () => {
    const c = await call('face2d');
    const spec = await specShown(c, 'face2d');
    expect(spec).toEqual({ v: CLIENT_AVATAR_VERSION, profile: 'face2d', renderer: 'face2d', seed: 1, style: {} });
    expect(attributes(c)[AVATAR_ATTRIBUTES.adapter]).toBe('client');
    expect(await rpc(c, RPC_CLIENT_READY, { v: CLIENT_AVATAR_VERSION, profile: 'face2d', renderers: ['face2d', 'gltf'] })).toBe('ok');
    await waitUntil(() => agentTracks(c).some((t) => t.source === TrackSource.SOURCE_MICROPHONE), 5_000, "the agent's voice track");
    // Another agent in the room (an avatar worker, a second agent) is not a viewer: it is not asked.
    const other = (await connectClient(server, { identity: `helper-agent-${seq}`, room: c.agent.name!, kind: 'agent' })).room;
    cleanups.push(() => other.disconnect());
    // Past the window, nothing changes: still drawn by the viewer, no video from the worker.
    const fellBack = new Promise((resolve) => c.avatar.onFallback(resolve));
    expect(await Promise.race([fellBack.then(() => 'fell back'), new Promise((r) => setTimeout(r, WINDOW_MS * 3, 'kept'))])).toBe('kept');
    expect(c.avatar.handle.profile.name).toBe('face2d');
    expect(publishesVideo(c)).toBe(false);
    expect(c.avatar.fallbacks).toEqual([]);
  });

  it('an rtc-node viewer that never announces gets server video after the window', async () => {
    const started = performance.now();
    const c = await call('face2d');
    await specShown(c, 'face2d');
    await waitUntil(() => publishesVideo(c), 10_000, 'the agent to publish the builtin face');
    expect(performance.now() - started).toBeGreaterThanOrEqual(WINDOW_MS);
    expect(c.avatar.handle.profile.name).toBe('face');
    await waitUntil(() => attributes(c)[AVATAR_ATTRIBUTES.adapter] === 'builtin', 5_000, 'the attributes to name the builtin face');
    expect(attributes(c)[AVATAR_ATTRIBUTES.client]).toBeFalsy();
    expect(attributes(c)[AVATAR_ATTRIBUTES.fallbackReason]).toMatch(/^face2d: no viewer said it can draw a face2d client avatar within 600 ms/);
    expect(c.fallbacks).toHaveLength(1);
    expect(c.avatar.fallbacks.map((f) => f.profile)).toEqual(['face2d']);
    // The client avatar's voice track is gone; the builtin face publishes its own.
    await waitUntil(() => agentTracks(c).filter((t) => t.source === TrackSource.SOURCE_MICROPHONE).length === 1, 5_000, 'one voice track');
  });

  it('a second viewer on a front end without client avatars gets a face too: the room goes to server video', async () => {
    const c = await call('face2d');
    await specShown(c, 'face2d');
    expect(await rpc(c, RPC_CLIENT_READY, { v: CLIENT_AVATAR_VERSION, profile: 'face2d', renderers: ['face2d'] })).toBe('ok');
    // Someone joins from LiveKit's playground or an rtc-node app: it never says it can draw.
    const second = (await connectClient(server, { identity: `second-${seq}`, room: c.agent.name! })).room;
    cleanups.push(() => second.disconnect());
    await waitUntil(() => publishesVideo(c), 10_000, 'the agent to publish the builtin face');
    expect(c.avatar.handle.profile.name).toBe('face');
    expect(c.fallbacks).toEqual([`face2d: viewer second-${seq} did not say it can draw a face2d client avatar within ${WINDOW_MS} ms (a front end without client avatars)`]);
    // The second viewer sees the video: it is subscribed to it.
    const agentAtSecond = () => second.remoteParticipants.get(c.agent.localParticipant!.identity);
    await waitUntil(() => [...(agentAtSecond()?.trackPublications.values() ?? [])].some((t) => t.source === TrackSource.SOURCE_CAMERA && t.track !== undefined), 10_000, 'the second viewer to receive the video');
  });

  it('a viewer whose renderer fails gets the next renderer, then server video', async () => {
    const c = await call('head');
    expect((await specShown(c, 'head')).renderer).toBe('gltf');
    await rpc(c, RPC_CLIENT_READY, { v: CLIENT_AVATAR_VERSION, profile: 'head', renderers: ['face2d', 'gltf'] });
    expect(await rpc(c, RPC_CLIENT_FAILED, { v: CLIENT_AVATAR_VERSION, profile: 'head', renderer: 'gltf', reason: 'no WebGL' })).toBe('ok');
    // The next renderer in the chain: face2d, still drawn by the viewer.
    expect((await specShown(c, 'face2d')).renderer).toBe('face2d');
    const viewer = c.user.localParticipant!.identity;
    expect(c.fallbacks).toEqual([`head: viewer ${viewer}: the gltf renderer failed: no WebGL`]);
    expect(attributes(c)[AVATAR_ATTRIBUTES.fallbackReason]).toBe(`head: viewer ${viewer}: the gltf renderer failed: no WebGL`);
    // A late answer about the previous avatar does not count for this one.
    expect(await rpc(c, RPC_CLIENT_FAILED, { v: CLIENT_AVATAR_VERSION, profile: 'head', renderer: 'gltf', reason: 'again' })).toBe('stale');
    await rpc(c, RPC_CLIENT_READY, { v: CLIENT_AVATAR_VERSION, profile: 'face2d', renderers: ['face2d', 'gltf'] });
    expect(publishesVideo(c)).toBe(false);
    // face2d fails too: server video.
    await rpc(c, RPC_CLIENT_FAILED, { v: CLIENT_AVATAR_VERSION, profile: 'face2d', renderer: 'face2d', reason: 'canvas unavailable' });
    await waitUntil(() => publishesVideo(c), 10_000, 'the agent to publish the builtin face');
    expect(c.avatar.handle.profile.name).toBe('face');
    expect(c.fallbacks[1]).toMatch(/^face2d: .*face2d renderer failed: canvas unavailable/);
  });

  it('a viewer that cannot draw the renderer (no WebGL) sends the worker down the chain at once', async () => {
    const c = await call('head');
    await specShown(c, 'head');
    expect(await rpc(c, RPC_CLIENT_READY, { v: CLIENT_AVATAR_VERSION, profile: 'head', renderers: ['face2d'] })).toBe('unsupported');
    await withTimeout(new Promise((resolve) => c.avatar.onFallback(resolve)), 5_000, 'the fallback');
    expect(c.fallbacks[0]).toMatch(/cannot draw gltf \(it draws: face2d\)/);
    expect((await specShown(c, 'face2d')).renderer).toBe('face2d');
  });
});

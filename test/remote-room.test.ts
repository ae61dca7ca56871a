/**
 * The remote avatar family in a room on the LiveKit-protocol test server: a provider fake starts
 * the session and sends a fake avatar participant (the real DataStream receiver, a synthetic face)
 * into the room with the token it was given. The agent's side is the adapter as the worker runs
 * it, driven the way AgentSession drives an audio output (captureFrame, flush, clearBuffer,
 * waitForPlayout).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose, RoomEvent, type Room } from '@livekit/rtc-node';
import type { AvatarContext, AvatarHandle } from '../src/avatar/contract.js';
import { LocalAvatarOutput } from '../src/avatar/local/avatar-output.js';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { attachAvatar } from '../src/avatar/registry.js';
import type { SegmentTimings } from '../src/avatar/local/avatar-output.js';
import { remoteAdapterFor, remoteProfileSchema, type RemoteProfile } from '../src/avatar/remote/index.js';
import { RemoteAudioOutput } from '../src/avatar/remote/remote-output.js';
import type { AvatarKeys } from '../src/config/config.js';
import { createLogger } from '../src/logging.js';
import { startFakeAvatar, type FakeAvatarKnobs, type FakeAvatarParticipant } from './fakes/avatar-participant.js';
import {
  DATASTREAM_PROVIDERS,
  INFERENCE_PROVIDER,
  keysFor,
  type ProviderCase,
  startFakeLiveAvatar,
  startFakeSelfhosted,
  startFakeTavus,
  type AvatarJoiner,
  type ProviderFake,
} from './fakes/providers/index.js';
import { waitFor, withTimeout } from './fakes/wait.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient } from './livekit-server/testing.js';

const KEY = 'prov-key-0123456789';
const KEYS: AvatarKeys = { tavus: KEY, liveavatar: KEY, launchSecret: KEY, ...keysFor(KEY) };
const logger = createLogger({ level: 'error' });

let server: TestLiveKitServer;
const cleanups: (() => Promise<unknown>)[] = [];
let roomSeq = 0;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await server?.close();
  await dispose();
});

interface Setup {
  room: Room;
  roomName: string;
  ctx: AvatarContext;
  avatars: FakeAvatarParticipant[];
  provider: ProviderFake;
  kind: 'tavus' | 'selfhosted';
}

/** An agent connected to a fresh room, a provider fake whose avatars are fake participants with `knobs`. */
async function setup(kind: 'tavus' | 'selfhosted', knobs: Partial<FakeAvatarKnobs> & { leaveAfterMs?: number } = {}): Promise<Setup> {
  const roomName = `remote-${++roomSeq}`;
  const agent = await connectClient(server, { identity: `agent-${roomSeq}`, room: roomName, kind: 'agent' });
  cleanups.push(() => agent.room.disconnect());
  const avatars: FakeAvatarParticipant[] = [];
  const joinAvatar: AvatarJoiner = async ({ url, token }) => {
    const avatar = await startFakeAvatar({ url, token, ...knobs });
    avatars.push(avatar);
    cleanups.push(() => avatar.leave());
    return avatar;
  };
  const opts = { apiKey: KEY, livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret }, joinAvatar };
  const provider = kind === 'tavus' ? await startFakeTavus(opts) : await startFakeSelfhosted(opts);
  cleanups.push(() => provider.close());
  const session = new voice.AgentSession({});
  const ctx: AvatarContext = { session, room: agent.room, logger, keys: KEYS, livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret } };
  return { room: agent.room, roomName, ctx, avatars, provider, kind };
}

function profileFor(s: Setup, extra: Record<string, unknown> = {}): RemoteProfile {
  const base = s.provider.baseUrl;
  const json = s.kind === 'tavus' ? { adapter: 'tavus', palId: 'p-echo-1', apiUrl: base } : { adapter: 'selfhosted', apiUrl: base };
  return { ...remoteProfileSchema.parse({ ...json, joinTimeoutMs: 15_000, ...extra }), name: 'remote-test' };
}

async function attach(s: Setup, extra: Record<string, unknown> = {}): Promise<AvatarHandle> {
  const handle = await remoteAdapterFor(profileFor(s, extra)).attach(s.ctx);
  cleanups.push(() => handle.close());
  return handle;
}

/** `ms` of a 300 Hz tone at `rate`, in 20 ms frames, pushed as fast as the output takes them (as TTS does). */
async function speak(output: voice.AudioOutput, ms: number, rate = 24_000): Promise<void> {
  const n = rate / 50;
  let k = 0;
  for (let t = 0; t < ms; t += 20) {
    const data = new Int16Array(n);
    for (let i = 0; i < n; i++, k++) data[i] = Math.round(9000 * Math.sin((2 * Math.PI * 300 * k) / rate));
    await output.captureFrame(new AudioFrame(data, rate, 1, n));
  }
  output.flush();
}

function audioOut(s: Setup): RemoteAudioOutput {
  const out = s.ctx.session.output.audio;
  expect(out).toBeInstanceOf(RemoteAudioOutput);
  return out as RemoteAudioOutput;
}

describe('remote avatar in a room', () => {
  it('the avatar joins with its token and the agent\'s speech reaches it; its playback_finished ends the turn', async () => {
    const s = await setup('tavus');
    const t0 = Date.now();
    const handle = await attach(s);
    const joinMs = Date.now() - t0;
    expect(s.provider.problems).toEqual([]);
    const avatar = s.avatars[0]!;
    expect(avatar.identity).toBe('tavus-avatar-agent');
    const remote = s.room.remoteParticipants.get('tavus-avatar-agent')!;
    expect(remote.attributes['lk.publish_on_behalf']).toBe(s.room.localParticipant!.identity);
    // The token it was handed: an agent of this room only, on the agent's behalf, no admin rights, the SDK's 6 h.
    const token = s.provider.tokens[0]!;
    expect(token).toMatchObject({ identity: 'tavus-avatar-agent', kind: 'agent', room: s.roomName, attributes: { 'lk.publish_on_behalf': s.room.localParticipant!.identity } });
    expect(token.grants).toMatchObject({ roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true });
    for (const admin of ['roomAdmin', 'roomCreate', 'roomList', 'roomRecord']) expect(token.grants[admin], admin).toBeFalsy();
    expect(token.ttlSeconds).toBeGreaterThanOrEqual(6 * 3600 - 60);

    const out = audioOut(s);
    const timings: SegmentTimings[] = [];
    handle.timings!.onSegmentTimings((t) => timings.push(t));
    const sent = Date.now();
    await speak(out, 1000);
    const ev = await withTimeout(out.waitForPlayout(), 10_000, 'the avatar to play the segment');
    const turnMs = Date.now() - sent;
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(1.0, 1);
    // The avatar heard it all, at the rate the provider wants, and reported it played in real time.
    const [seg] = await avatar.waitForSegments(1, 5000);
    expect(seg!.sampleRate).toBe(24_000);
    expect(seg!.pcm.length).toBe(24_000);
    expect(turnMs).toBeGreaterThan(900);
    expect(timings).toHaveLength(1);
    expect(timings[0]!.firstSpeakingFrameAt).toBeGreaterThanOrEqual(timings[0]!.firstAudioAt);
    process.stdout.write(`remote avatar joined in ${joinMs} ms; 1 s segment finished after ${turnMs} ms\n`);
  });

  it('an interruption clears the avatar and the playback ends interrupted at what was heard', async () => {
    const s = await setup('selfhosted');
    await attach(s);
    const out = audioOut(s);
    const avatar = s.avatars[0]!;
    await speak(out, 3000);
    await waitFor(() => avatar.segments[0]?.playStartAt !== undefined, 5000, 'playout to start');
    await new Promise((r) => setTimeout(r, 500));
    out.clearBuffer();
    const ev = await withTimeout(out.waitForPlayout(), 5000, 'the interrupted playback to finish');
    expect(ev.interrupted).toBe(true);
    expect(ev.playbackPosition).toBeGreaterThan(0.2);
    expect(ev.playbackPosition).toBeLessThan(2.5);
    const clear = await avatar.waitForClear(2000);
    expect(clear.callerIdentity).toBe(s.room.localParticipant!.identity);
  });

  it('a silent avatar cannot stall the turn: the playback is finished as interrupted ~2 s after the clear, and its late answer is not counted for the next segment', async () => {
    const s = await setup('selfhosted', { silent: true });
    await attach(s);
    const out = audioOut(s);
    const avatar = s.avatars[0]!;
    await speak(out, 3000);
    await waitFor(() => avatar.segments[0]?.playStartAt !== undefined, 5000, 'playout to start');
    const t0 = Date.now();
    out.clearBuffer();
    const ev = await withTimeout(out.waitForPlayout(), 8000, 'the silent avatar\'s playback to be given up on');
    const waited = Date.now() - t0;
    expect(ev.interrupted).toBe(true);
    expect(ev.playbackPosition).toBeCloseTo(3.0, 1); // the position pushed
    expect(waited).toBeGreaterThanOrEqual(1900);
    expect(waited).toBeLessThan(6000);

    // The avatar answers the old clear after all, while the next segment plays.
    avatar.setKnobs({ silent: false });
    await speak(out, 1500);
    await avatar.room.localParticipant!.performRpc({
      destinationIdentity: s.room.localParticipant!.identity,
      method: 'lk.playback_finished',
      payload: JSON.stringify({ playback_position: 0.4, interrupted: true, synchronized_transcript: null }),
    });
    const t1 = Date.now();
    const next = await withTimeout(out.waitForPlayout(), 10_000, 'the next segment');
    expect(next.interrupted).toBe(false);
    expect(Date.now() - t1).toBeGreaterThan(500);
  });

  it('an avatar that joins but never publishes video fails attach once firstVideoTimeoutMs has passed, naming the provider and the field; its session is ended and its participant removed', async () => {
    const s = await setup('tavus', { neverPublishVideo: true });
    const t0 = Date.now();
    const err = (await remoteAdapterFor(profileFor(s, { firstVideoTimeoutMs: 3000 }))
      .attach(s.ctx)
      .catch((e: unknown) => e)) as Error;
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^Tavus avatar unavailable: its avatar joined the room but published no video within 3000 ms \(firstVideoTimeoutMs of profile remote-test; raise it/);
    expect(took).toBeGreaterThanOrEqual(2900);
    expect(took).toBeLessThan(9000);
    await waitFor(() => s.provider.ended.length === 1, 5000, 'the conversation to be ended');
    await waitFor(() => !server.room(s.roomName)?.participants.some((p) => p.identity === 'tavus-avatar-agent'), 5000, 'the avatar to be removed');
    expect(s.ctx.session.output.audio).toBeNull();
  });

  it('a provider API failure fails attach at once with the provider, the status and what to check', async () => {
    const s = await setup('tavus');
    s.provider.setKnobs({ status: 401 });
    const err = (await remoteAdapterFor(profileFor(s)).attach(s.ctx).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^Tavus avatar unavailable: create conversation failed: HTTP 401.*TAVUS_API_KEY/);
    expect(err.message).not.toContain(KEY);
    const missing = (await remoteAdapterFor(profileFor(s)).attach({ ...s.ctx, keys: {} }).catch((e: unknown) => e)) as Error;
    expect(missing.message).toMatch(/TAVUS_API_KEY is not set/);
  });

  it('each start step has its own deadline: a provider slow at every step (answer, join, video) still attaches', async () => {
    const s = await setup('tavus', { videoDelayMs: 1200 });
    s.provider.setKnobs({ latencyMs: 1200, joinDelayMs: 1200 });
    const t0 = Date.now();
    await attach(s, { launchTimeoutMs: 3000, joinTimeoutMs: 3000, firstVideoTimeoutMs: 3000 });
    // Longer in all than any one deadline: one clock for the whole start would have given up.
    expect(Date.now() - t0).toBeGreaterThan(3600);
    expect(s.provider.problems).toEqual([]);
    expect(audioOut(s)).toBeInstanceOf(RemoteAudioOutput);
  });

  it('an avatar that never joins fails once joinTimeoutMs has passed after the launch; a launch that hangs fails at launchTimeoutMs; each names its field', async () => {
    const s = await setup('tavus');
    s.provider.setKnobs({ noAvatar: true });
    const t0 = Date.now();
    const err = (await remoteAdapterFor(profileFor(s, { joinTimeoutMs: 2000 })).attach(s.ctx).catch((e: unknown) => e)) as Error;
    const took = Date.now() - t0;
    expect(err.message).toMatch(/^Tavus avatar unavailable: its avatar did not join the room within 2000 ms \(joinTimeoutMs of profile remote-test; raise it/);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(8000);
    await waitFor(() => s.provider.ended.length === 1, 5000, 'the conversation to be ended');

    s.provider.setKnobs({ noAvatar: false, fault: 'hang' });
    const t1 = Date.now();
    const hung = (await remoteAdapterFor(profileFor(s, { launchTimeoutMs: 1500 })).attach(s.ctx).catch((e: unknown) => e)) as Error;
    expect(hung.message).toMatch(/^Tavus avatar unavailable: the session call did not complete within 1500 ms \(launchTimeoutMs of profile remote-test/);
    expect(Date.now() - t1).toBeLessThan(6000);
    s.provider.setKnobs({ fault: null });
  });

  it('LIVEKIT_URL set as http(s):// (as LiveKit Cloud projects do): the provider is handed ws(s)://, and its avatar joins', async () => {
    const s = await setup('tavus');
    expect(server.httpUrl).toMatch(/^http:\/\//);
    const ctx = { ...s.ctx, livekit: { ...s.ctx.livekit!, url: server.httpUrl } };
    const handle = await remoteAdapterFor(profileFor(s)).attach(ctx);
    cleanups.push(() => handle.close());
    expect(s.provider.problems).toEqual([]);
    expect(s.provider.tokens[0]!.url).toBe(server.url);
    expect(s.provider.tokens[0]!.url).toMatch(/^ws:\/\//);
    expect(s.avatars).toHaveLength(1);
  });

  it('a malformed lk.playback_finished does not stall the turn: the playback ends at once, with defaults for what could not be read', async () => {
    // The avatar's own answer would come 30 s late; the only timely one is malformed.
    const s = await setup('selfhosted', { finishDelayMs: 30_000 });
    await attach(s);
    const out = audioOut(s);
    const avatar = s.avatars[0]!;
    await speak(out, 500);
    await avatar.waitForSegments(1, 5000);
    const answer = await avatar.room.localParticipant!.performRpc({
      destinationIdentity: s.room.localParticipant!.identity,
      method: 'lk.playback_finished',
      payload: '{"playback_position": "0.5", "interrupted": "no"}',
    });
    expect(answer).toBe('ok');
    const ev = await withTimeout(out.waitForPlayout(), 3000, 'the turn to end on the malformed answer');
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(0.5, 1);
  });

  it('with waitPlaybackStart, playback start (and the segment timing) is when the avatar says it started playing', async () => {
    const s = await setup('selfhosted');
    const handle = await attach(s, { waitPlaybackStart: true });
    const out = audioOut(s);
    const timings: SegmentTimings[] = [];
    handle.timings!.onSegmentTimings((t) => timings.push(t));
    await speak(out, 600);
    await withTimeout(out.waitForPlayout(), 8000, 'playback');
    const startedRpc = s.avatars[0]!.sent.find((x) => x.method === 'lk.playback_started')!;
    expect(timings).toHaveLength(1);
    // Stamped when our handler ran: after the avatar sent it, within the RPC's trip.
    expect(timings[0]!.firstSpeakingFrameAt).toBeGreaterThanOrEqual(startedRpc.at);
    expect(timings[0]!.firstSpeakingFrameAt - startedRpc.at).toBeLessThan(1000);
  });

  it('an avatar leaving mid-segment resolves `lost` and finishes the pending playback as interrupted', async () => {
    const s = await setup('selfhosted');
    const handle = await attach(s);
    const out = audioOut(s);
    await speak(out, 4000);
    await waitFor(() => s.avatars[0]!.segments[0]?.playStartAt !== undefined, 5000, 'playout to start');
    await s.avatars[0]!.leave();
    const reason = await withTimeout(handle.lost!, 10_000, 'lost');
    expect(reason).toMatch(/Self-hosted avatar: the avatar participant left the room/);
    const ev = await withTimeout(out.waitForPlayout(), 2000, 'the pending playback to finish');
    expect(ev.interrupted).toBe(true);
    // What the session still sends goes nowhere and ends at once.
    await speak(out, 500);
    await expect(withTimeout(out.waitForPlayout(), 2000, 'a segment after the loss')).resolves.toMatchObject({ interrupted: true });
  });

  it('close removes the avatar participant and ends the provider session', async () => {
    const s = await setup('tavus');
    const handle = await attach(s);
    const conversation = s.provider.started[0]!;
    await handle.close();
    expect(s.provider.ended).toEqual([conversation]);
    await waitFor(() => !server.room(s.roomName)?.participants.some((p) => p.identity === 'tavus-avatar-agent'), 5000, 'the avatar to leave the room');
    // A second close is harmless.
    await handle.close();
  });

  it('two rooms in one process each get their playback RPCs (agents-js registers them on the first room only)', async () => {
    const a = await setup('selfhosted');
    const b = await setup('selfhosted');
    await attach(a);
    await attach(b);
    for (const s of [a, b]) {
      const out = audioOut(s);
      await speak(out, 400);
      const ev = await withTimeout(out.waitForPlayout(), 8000, `playback in ${s.roomName}`);
      expect(ev.interrupted).toBe(false);
      expect(ev.playbackPosition).toBeCloseTo(0.4, 1);
    }
  });

  it('LiveAvatar: the avatar joins, speech goes over its websocket, close stops the session', async () => {
    const roomName = `remote-${++roomSeq}`;
    const agent = await connectClient(server, { identity: `agent-${roomSeq}`, room: roomName, kind: 'agent' });
    cleanups.push(() => agent.room.disconnect());
    const la = await startFakeLiveAvatar({
      apiKey: KEY,
      livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret },
      avatars: ['la-1'],
      joinAvatar: async ({ url, token }) => {
        const avatar = await startFakeAvatar({ url, token });
        cleanups.push(() => avatar.leave());
        return avatar;
      },
    });
    cleanups.push(() => la.close());
    const session = new voice.AgentSession({});
    const ctx: AvatarContext = { session, room: agent.room, logger, keys: KEYS, livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret } };
    const profile = { ...remoteProfileSchema.parse({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl }), name: 'la' };
    const handle = await remoteAdapterFor(profile).attach(ctx);
    cleanups.push(() => handle.close());
    const out = session.output.audio!;
    await speak(out, 800);
    const ev = await withTimeout(out.waitForPlayout(), 8000, 'LiveAvatar playback');
    expect(ev.interrupted).toBe(false);
    expect(la.speech[0]!.pcm.reduce((n, p) => n + p.length, 0)).toBe(0.8 * 24_000);
    // Its token grants what LiveKit's LiveAvatar plugin grants.
    expect(la.tokens[0]!.grants).toMatchObject({ roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true, canUpdateOwnMetadata: true, canSubscribeMetrics: true });
    await handle.close();
    expect(la.ended).toHaveLength(1);
    expect(la.problems).toEqual([]);
    await waitFor(() => !server.room(roomName)?.participants.some((p) => p.identity === 'liveavatar-avatar-agent'), 5000, 'the avatar to leave');
  });
});

/**
 * An agent in a fresh room and provider `c`'s fake, whose avatars (and listeners) are fake
 * participants; `join` may change how each role's participant behaves, or keep it out (null).
 */
async function providerRoomFor(
  c: ProviderCase,
  opts: { knobs?: { status?: number }; logger?: AvatarContext['logger']; join?: (role: 'avatar' | 'listener') => Partial<FakeAvatarKnobs> | null } = {},
) {
  const roomName = `remote-${c.adapter}-${++roomSeq}`;
  const agent = await connectClient(server, { identity: `agent-${roomSeq}`, room: roomName, kind: 'agent' });
  cleanups.push(() => agent.room.disconnect());
  const avatars: FakeAvatarParticipant[] = [];
  const provider = await c.start({
    apiKey: KEY,
    livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret },
    knobs: opts.knobs ?? {},
    // A listener (AvatarTalk's) hears the speech and publishes nothing; the avatar publishes the video.
    joinAvatar: async ({ url, token, role }) => {
      const knobs = opts.join ? opts.join(role) : {};
      if (knobs === null) return undefined;
      const avatar = await startFakeAvatar({ url, token, neverPublishVideo: role === 'listener', ...knobs });
      avatars.push(avatar);
      cleanups.push(() => avatar.leave());
      return avatar;
    },
  });
  cleanups.push(() => provider.close());
  const session = new voice.AgentSession({});
  const ctx: AvatarContext = { session, room: agent.room, logger: opts.logger ?? logger, keys: KEYS, livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret } };
  return { roomName, room: agent.room, provider, avatars, session, ctx };
}

/**
 * Every provider that speaks the DataStream protocol, through its own fake in a room: its avatar
 * joins with the token it was handed, hears the agent's speech at the provider's rate, its
 * lk.playback_finished ends the turn, an interruption clears it, close removes it (and ends the
 * session where the provider has an end call); a provider that fails falls back to the built-in face.
 */
describe.each([...DATASTREAM_PROVIDERS, INFERENCE_PROVIDER])('$label in a room', (c) => {
  const providerRoom = (knobs: { status?: number } = {}) => providerRoomFor(c, { knobs });

  it('its avatar joins and hears the speech at its rate; its playback_finished ends the turn; an interruption clears it; close removes it', async () => {
    const r = await providerRoom();
    const profile = { ...remoteProfileSchema.parse({ ...c.profile(r.provider.baseUrl), joinTimeoutMs: 15_000 }), name: c.adapter };
    const handle = await remoteAdapterFor(profile).attach(r.ctx);
    cleanups.push(() => handle.close());
    expect(r.provider.problems).toEqual([]);
    expect(r.avatars.map((a) => a.identity).sort()).toEqual([c.identity, ...(c.speechIdentity ? [c.speechIdentity] : [])].sort());
    expect(r.room.remoteParticipants.get(c.identity)!.attributes['lk.publish_on_behalf']).toBe(r.room.localParticipant!.identity);
    // Who hears the speech: the avatar, or the provider's listener.
    const avatar = r.avatars.find((a) => a.identity === (c.speechIdentity ?? c.identity))!;
    const endCalls: string[] = [];
    avatar.room.on(RoomEvent.DataReceived, (payload: Uint8Array) => endCalls.push(new TextDecoder().decode(payload)));

    // A reply plays to its end: the avatar hears all of it at the provider's rate, and its answer ends the turn.
    const out = r.session.output.audio as RemoteAudioOutput;
    expect(out).toBeInstanceOf(RemoteAudioOutput);
    const sent = Date.now();
    await speak(out, 600, c.sampleRate);
    const ev = await withTimeout(out.waitForPlayout(), 10_000, 'the avatar to play the reply');
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(0.6, 1);
    expect(Date.now() - sent).toBeGreaterThan(500);
    const [seg] = await avatar.waitForSegments(1, 5000);
    expect(seg!.sampleRate).toBe(c.sampleRate);
    expect(seg!.pcm.length).toBe(0.6 * c.sampleRate);

    // The user interrupts the next one: the avatar is cleared and the playback ends where it was.
    await speak(out, 3000, c.sampleRate);
    await waitFor(() => avatar.segments[1]?.playStartAt !== undefined, 5000, 'the second reply to start playing');
    out.clearBuffer();
    const cut = await withTimeout(out.waitForPlayout(), 5000, 'the interrupted playback to finish');
    expect(cut.interrupted).toBe(true);
    // What was heard when the avatar answered; at most what was pushed (a loaded machine's avatar may answer after our 2 s cap).
    expect(cut.playbackPosition).toBeLessThanOrEqual(3.0 + 1e-6);
    expect((await avatar.waitForClear(2000)).callerIdentity).toBe(r.room.localParticipant!.identity);

    await handle.close();
    await waitFor(() => !server.room(r.roomName)?.participants.some((p) => p.identity === c.identity || p.identity === c.speechIdentity), 5000, 'the avatar (and its listener) to leave the room');
    if (c.endsSession) expect(r.provider.ended).toEqual([r.provider.started[0]]);
    // Runway's session ends with END_CALL to its avatar, as LiveKit's plugin ends it.
    if (c.adapter === 'runway') await waitFor(() => endCalls.includes('{"type":"END_CALL"}'), 3000, 'END_CALL to reach the Runway avatar');
    expect(r.provider.problems).toEqual([]);
  });

  it('a failure of its API falls back to the built-in face, naming the provider and the status', async () => {
    const r = await providerRoom({ status: 503 });
    const dir = await mkdtemp(join(tmpdir(), `fallback-${c.adapter}-`));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'face'), { recursive: true });
    await writeFile(join(dir, 'face', 'avatar.json'), JSON.stringify({ adapter: 'builtin' }));
    await mkdir(join(dir, c.adapter), { recursive: true });
    await writeFile(join(dir, c.adapter, 'avatar.json'), JSON.stringify({ ...c.profile(r.provider.baseUrl), fallback: ['face'] }));
    // The face renders into memory here: publishing it in the room is avatar-fallback-room.test.ts's part.
    const sink = new MemoryMediaSink();
    const attached = await attachAvatar({ ...r.ctx, sink }, dir, c.adapter);
    cleanups.push(() => attached.close());
    expect(attached.handle.profile.name).toBe('face');
    expect(r.session.output.audio).toBeInstanceOf(LocalAvatarOutput);
    expect(attached.fallbacks[0]!.reason).toMatch(new RegExp(`${c.label} avatar unavailable: .*HTTP 503, ${c.label} is failing on its side`));
    expect(attached.fallbacks[0]!.reason).not.toContain(KEY);
    expect(r.avatars).toEqual([]);
    await waitFor(() => sink.frames.length > 0, 10_000, "the built-in face's first frame");
  });
});

describe('bitHuman and AvatarTalk in a room', () => {
  const bithuman = DATASTREAM_PROVIDERS.find((c) => c.adapter === 'bithuman')!;
  const avatartalk = DATASTREAM_PROVIDERS.find((c) => c.adapter === 'avatartalk')!;
  const profileOf = (c: ProviderCase, apiUrl: string, extra: Record<string, unknown> = {}) => ({ ...remoteProfileSchema.parse({ ...c.profile(apiUrl), joinTimeoutMs: 15_000, ...extra }), name: c.adapter });

  it("bitHuman: the API secret reaches neither the room (no participant's attributes carry it) nor the log, in a call or a refused start", async () => {
    const lines: string[] = [];
    // No scrubbing: what is checked is that nothing logs the secret, not that the logger hides it.
    const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    const r = await providerRoomFor(bithuman, { logger: log });
    const handle = await remoteAdapterFor(profileOf(bithuman, r.provider.baseUrl)).attach(r.ctx);
    cleanups.push(() => handle.close());
    const out = r.session.output.audio as RemoteAudioOutput;
    await speak(out, 400, 16_000);
    await withTimeout(out.waitForPlayout(), 8000, 'the bitHuman avatar to play');
    const everyAttribute = [...r.room.remoteParticipants.values()].flatMap((p) => Object.entries(p.attributes));
    expect(everyAttribute).toContainEqual(['lk.publish_on_behalf', r.room.localParticipant!.identity]);
    for (const [name, value] of everyAttribute) expect(value, name).not.toContain(KEY);
    expect(r.provider.tokens[0]!.attributes).toEqual({ 'lk.publish_on_behalf': r.room.localParticipant!.identity });
    await handle.close();
    expect(r.provider.ended).toEqual(r.provider.started);

    // A refused start: the error (which goes to the agent's attributes as the fallback reason) and the log carry no secret either.
    r.provider.setKnobs({ status: 401 });
    const err = (await remoteAdapterFor(profileOf(bithuman, r.provider.baseUrl)).attach(r.ctx).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^bitHuman avatar unavailable: start cloud avatar failed: HTTP 401, the key was refused; check BITHUMAN_API_SECRET/);
    expect(err.message).not.toContain(KEY);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(KEY);
    expect(r.provider.problems).toEqual([]);
  });

  it('AvatarTalk: its listener leaving mid-reply loses the avatar, naming the listener, and the reply ends interrupted', async () => {
    const r = await providerRoomFor(avatartalk);
    const handle = await remoteAdapterFor(profileOf(avatartalk, r.provider.baseUrl)).attach(r.ctx);
    cleanups.push(() => handle.close());
    const out = r.session.output.audio as RemoteAudioOutput;
    const listener = r.avatars.find((a) => a.identity === 'listener')!;
    await speak(out, 4000, 16_000);
    await waitFor(() => listener.segments[0]?.playStartAt !== undefined, 5000, 'playout to start');
    await listener.leave();
    const reason = await withTimeout(handle.lost!, 10_000, 'lost');
    expect(reason).toMatch(/^AvatarTalk: its listener participant, which hears the speech, is gone \(left the room\)/);
    const ev = await withTimeout(out.waitForPlayout(), 2000, 'the pending playback to finish');
    expect(ev.interrupted).toBe(true);
  });

  it('AvatarTalk: a listener that never joins fails the attach at joinTimeoutMs, naming it; the session is deleted and the avatar removed', async () => {
    const r = await providerRoomFor(avatartalk, { join: (role) => (role === 'listener' ? null : {}) });
    const t0 = Date.now();
    const err = (await remoteAdapterFor(profileOf(avatartalk, r.provider.baseUrl, { joinTimeoutMs: 2500 })).attach(r.ctx).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^AvatarTalk avatar unavailable: its avatar publishes video, but its listener participant \(which hears the speech\) did not join the room within 2500 ms \(joinTimeoutMs of profile avatartalk/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2400);
    await waitFor(() => r.provider.ended.length === 1, 5000, 'the session to be deleted');
    await waitFor(() => !server.room(r.roomName)?.participants.some((p) => p.identity === 'avatartalk-agent'), 5000, 'the avatar to be removed');
    expect(r.session.output.audio).toBeNull();
  });
});

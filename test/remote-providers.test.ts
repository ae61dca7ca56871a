/**
 * The remote avatar providers' session calls against loopback fakes of their APIs (no room): the
 * requests are exactly what each real API takes (the fakes refuse anything else and say why), the
 * LiveKit token handed over is an agent token for one room publishing on the agent's behalf, the
 * errors name the provider and what to check and never carry a secret, and LiveAvatar's speech
 * travels over its websocket.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import type { AvatarKeys } from '../src/config/config.js';
import { createLogger } from '../src/logging.js';
import { createTavusEchoPal, launcherFor, remoteProfileSchema, type RemoteProfile } from '../src/avatar/remote/index.js';
import type { LaunchRequest } from '../src/avatar/remote/launcher.js';
import { LiveAvatarOutput } from '../src/avatar/remote/liveavatar-output.js';
import { mintAvatarToken } from '../src/avatar/remote/token.js';
import {
  startFakeAnam,
  startFakeBey,
  startFakeHedra,
  startFakeLemonSlice,
  startFakeLiveAvatar,
  startFakeSelfhosted,
  startFakeTavus,
  type ProviderFake,
} from './fakes/providers/index.js';
import { waitFor } from './fakes/wait.js';

initializeLogger({ pretty: false, level: 'error' });
const logger = createLogger({ level: 'error' });
const LIVEKIT = { url: 'ws://127.0.0.1:7880', apiKey: 'devkey', apiSecret: 'secret-secret-secret-secret-secret' };
const KEY = 'prov-key-0123456789';
const KEYS: AvatarKeys = { tavus: KEY, liveavatar: KEY, hedra: KEY, bey: KEY, anam: KEY, lemonslice: KEY, launchSecret: KEY };

const fakes: ProviderFake[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
async function fake<T extends ProviderFake>(started: Promise<T>): Promise<T> {
  const f = await started;
  fakes.push(f);
  return f;
}
const fakeOpts = { apiKey: KEY, livekit: LIVEKIT };

function profile(json: Record<string, unknown>): RemoteProfile {
  return { ...remoteProfileSchema.parse(json), name: String(json.adapter) };
}

async function request(identity: string, signal = new AbortController().signal): Promise<LaunchRequest> {
  const token = await mintAvatarToken({ livekit: LIVEKIT, room: 'room-1', identity, agentIdentity: 'agent-1' });
  return { livekitUrl: LIVEKIT.url, token, room: 'room-1', roomSid: 'RM_abc', avatarIdentity: identity, timeoutMs: 5000, signal, logger };
}

describe('profiles', () => {
  it('fill defaults per provider and refuse a profile that names no avatar', () => {
    const tavus = profile({ adapter: 'tavus', palId: 'p1' });
    expect(tavus).toMatchObject({ apiUrl: 'https://tavusapi.com', sampleRate: 24000, joinTimeoutMs: 20000, fallback: [] });
    expect(profile({ adapter: 'hedra', avatarId: 'h' }).sampleRate).toBe(16000);
    expect(profile({ adapter: 'lemonslice', agentId: 'a' }).sampleRate).toBe(16000);
    expect(() => remoteProfileSchema.parse({ adapter: 'hedra' })).toThrow(/exactly one of avatarId or avatarImage/);
    expect(() => remoteProfileSchema.parse({ adapter: 'lemonslice', agentId: 'a', agentImageUrl: 'https://x/y.png' })).toThrow(/exactly one/);
    expect(() => remoteProfileSchema.parse({ adapter: 'tavus' })).toThrow();
    expect(() => remoteProfileSchema.parse({ adapter: 'bey', avatarId: 'b', avatarIdentity: 'has space' })).toThrow(/participant identity/);
  });
});

describe('session calls against each provider API', () => {
  it('Tavus: creates the conversation with the PAL, face and LiveKit credentials, and ends it', async () => {
    const tavus = await fake(startFakeTavus({ ...fakeOpts, pals: ['p-echo'] }));
    const launcher = launcherFor(profile({ adapter: 'tavus', palId: 'p-echo', faceId: 'f-1', apiUrl: tavus.baseUrl }), KEYS);
    const launched = await launcher.launch(await request('tavus-avatar-agent'));
    expect(tavus.problems).toEqual([]);
    const sent = tavus.requests[0]!;
    expect(sent.headers['x-api-key']).toBe(KEY);
    expect(sent.body).toMatchObject({ pal_id: 'p-echo', face_id: 'f-1', properties: { livekit_ws_url: LIVEKIT.url } });
    expect(tavus.tokens[0]).toMatchObject({ identity: 'tavus-avatar-agent', room: 'room-1', kind: 'agent', attributes: { 'lk.publish_on_behalf': 'agent-1' } });
    expect(tavus.tokens[0]!.ttlSeconds).toBeLessThanOrEqual(15 * 60);
    await launched.end!();
    expect(tavus.ended).toEqual([launched.sessionId]);
    // Ending twice (the avatar may have left first) is not an error.
    await launched.end!();
  });

  it('Tavus: the PAL helper creates an echo-mode, livekit-transport PAL that conversations accept', async () => {
    const tavus = await fake(startFakeTavus({ ...fakeOpts, pals: [] }));
    const palId = await createTavusEchoPal({ apiKey: KEY, defaultFaceId: 'f-stock', apiUrl: tavus.baseUrl });
    expect(tavus.problems).toEqual([]);
    expect(tavus.requests[0]!.body).toMatchObject({ pipeline_mode: 'echo', layers: { transport: { transport_type: 'livekit' } } });
    const launcher = launcherFor(profile({ adapter: 'tavus', palId, apiUrl: tavus.baseUrl }), KEYS);
    await expect(launcher.launch(await request('tavus-avatar-agent'))).resolves.toMatchObject({ sessionId: expect.any(String) });
  });

  it('Beyond Presence, Anam, LemonSlice and a self-hosted runner: each call is what its API takes', async () => {
    const bey = await fake(startFakeBey({ ...fakeOpts, avatars: ['av-1'] }));
    await launcherFor(profile({ adapter: 'bey', avatarId: 'av-1', apiUrl: bey.baseUrl }), KEYS).launch(await request('bey-avatar-agent'));
    expect(bey.problems).toEqual([]);
    expect(bey.requests[0]!.body).toMatchObject({ avatar_id: 'av-1', livekit_url: LIVEKIT.url });

    const anam = await fake(startFakeAnam(fakeOpts));
    const anamSession = await launcherFor(profile({ adapter: 'anam', avatarId: 'an-1', apiUrl: anam.baseUrl }), KEYS).launch(await request('anam-avatar-agent'));
    expect(anam.problems).toEqual([]);
    expect(anam.requests.map((r) => r.endpoint)).toEqual(['session-token', 'engine-session']);
    expect(anam.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(anam.requests[1]!.headers.authorization).not.toContain(KEY);
    expect(anamSession.sessionId).toBeTruthy();

    const lemon = await fake(startFakeLemonSlice(fakeOpts));
    await launcherFor(profile({ adapter: 'lemonslice', agentId: 'ag-1', idleTimeoutSec: 60, apiUrl: lemon.baseUrl }), KEYS).launch(await request('lemonslice-avatar-agent'));
    expect(lemon.problems).toEqual([]);
    expect(lemon.requests[0]!.body).toMatchObject({ transport_type: 'livekit', agent_id: 'ag-1', idle_timeout: 60, properties: { livekit_session_id: 'RM_abc' } });

    const runner = await fake(startFakeSelfhosted(fakeOpts));
    await launcherFor(profile({ adapter: 'selfhosted', apiUrl: runner.baseUrl }), KEYS).launch(await request('selfhosted-avatar-agent'));
    expect(runner.problems).toEqual([]);
    expect(runner.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(runner.requests[0]!.body).toMatchObject({ url: LIVEKIT.url, room: 'room-1', token: expect.stringMatching(/^eyJ/) });
  });

  it('Hedra: multipart with the LiveKit fields and a JPEG; when the service is off the error says so plainly', async () => {
    const hedra = await fake(startFakeHedra(fakeOpts));
    const jpeg = join(tmpdir(), `hedra-${process.pid}.jpg`);
    await writeFile(jpeg, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70]));
    await launcherFor(profile({ adapter: 'hedra', avatarImage: jpeg, apiUrl: hedra.baseUrl }), KEYS).launch(await request('hedra-avatar-agent'));
    expect(hedra.problems).toEqual([]);
    expect(hedra.requests[0]!.body).toMatchObject({ livekit_url: LIVEKIT.url, avatar_image: { type: 'image/jpeg' } });

    const off = await fake(startFakeHedra({ ...fakeOpts, disabled: true }));
    const launcher = launcherFor(profile({ adapter: 'hedra', avatarId: 'h-1', apiUrl: off.baseUrl }), KEYS);
    await expect(launcher.launch(await request('hedra-avatar-agent'))).rejects.toThrow(/Hedra create session failed: HTTP 503/);
    expect(launcher.failureNote).toMatch(/disabled since April 2026/);
  });
});

describe('errors a person can act on', () => {
  it('name the provider, the status meaning and what to check, and never carry the key or the token', async () => {
    const tavus = await fake(startFakeTavus(fakeOpts));
    const launcher = launcherFor(profile({ adapter: 'tavus', palId: 'p-echo-1', apiUrl: tavus.baseUrl }), KEYS);
    const cases: [number, RegExp][] = [
      [401, /Tavus create conversation failed: HTTP 401.*check TAVUS_API_KEY/],
      [402, /HTTP 402, payment required; the Tavus account is out of credits/],
      [429, /HTTP 429, rate or concurrency limit/],
      [503, /HTTP 503, Tavus is failing on its side/],
    ];
    for (const [status, message] of cases) {
      tavus.setKnobs({ status });
      const req = await request('tavus-avatar-agent');
      const err = (await launcher.launch(req).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain(KEY);
      expect(err.message).not.toContain(req.token);
    }
    tavus.setKnobs({ status: undefined, fault: 'hang' });
    const started = Date.now();
    const hung = (await launcher.launch({ ...(await request('tavus-avatar-agent')), timeoutMs: 800 }).catch((e: unknown) => e)) as Error;
    expect(hung.message).toMatch(/no answer within 800 ms/);
    expect(Date.now() - started).toBeLessThan(5000);

    // A wrong key: the fake refuses it as Tavus does; our message points at the variable.
    const wrong = launcherFor(profile({ adapter: 'tavus', palId: 'p-echo-1', apiUrl: tavus.baseUrl }), { tavus: 'nope-nope-nope' });
    tavus.setKnobs({ fault: null });
    await expect(wrong.launch(await request('tavus-avatar-agent'))).rejects.toThrow(/HTTP 401.*TAVUS_API_KEY/);
  });

  it('a missing key names the variable to set', () => {
    expect(() => launcherFor(profile({ adapter: 'tavus', palId: 'p' }), {})).toThrow('Tavus avatar: TAVUS_API_KEY is not set');
    expect(() => launcherFor(profile({ adapter: 'liveavatar', avatarId: 'a' }), {})).toThrow(/LIVEAVATAR_API_KEY/);
    expect(() => launcherFor(profile({ adapter: 'selfhosted' }), {})).toThrow(/AVATAR_LAUNCH_SECRET/);
  });
});

describe('LiveAvatar (LITE): token, start, and speech over its websocket', () => {
  function tone(ms: number, rate = 24_000): AudioFrame[] {
    const frames: AudioFrame[] = [];
    for (let t = 0; t < ms; t += 20) {
      const n = rate / 50;
      const data = new Int16Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (t / 1000 + i / rate))));
      frames.push(new AudioFrame(data, rate, 1, n));
    }
    return frames;
  }

  it('sends base64 PCM16 24 kHz as agent.speak, ends with agent.speak_end, and the avatar\'s speak_ended finishes the playback', async () => {
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    const launcher = launcherFor(profile({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl }), KEYS);
    const launched = await launcher.launch(await request('liveavatar-avatar-agent'));
    expect(la.problems).toEqual([]);
    expect(la.requests.map((r) => r.endpoint)).toEqual(['token', 'start']);
    expect(la.requests[0]!.body).toMatchObject({ mode: 'LITE', avatar_id: 'la-1', livekit_config: { livekit_room: 'room-1', livekit_url: LIVEKIT.url } });
    const output = launched.output as LiveAvatarOutput;
    expect(output).toBeInstanceOf(LiveAvatarOutput);
    const started: number[] = [];
    output.on(voice.AudioOutput.EVENT_PLAYBACK_STARTED, () => started.push(Date.now()));
    const timings: unknown[] = [];
    output.onSegmentTimings((t) => timings.push(t));

    for (const f of tone(1200)) await output.captureFrame(f);
    output.flush();
    const ev = await output.waitForPlayout();
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(1.2, 1);
    expect(la.speech).toHaveLength(1);
    const samples = la.speech[0]!.pcm.reduce((n, p) => n + p.length, 0);
    expect(samples).toBe(1.2 * 24_000);
    expect(la.speech[0]!.messages).toBeGreaterThanOrEqual(2); // a small first chunk, then ~1 s ones
    expect(started).toHaveLength(1);
    expect(timings).toHaveLength(1);
    expect(la.problems).toEqual([]);

    await launched.end!();
    expect(la.ended).toHaveLength(1);
    expect(la.requests.at(-1)!.endpoint).toBe('stop');
  });

  it('an interruption sends agent.interrupt and finishes the playback at once; the next reply is not ended by the interrupted one', async () => {
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    const launched = await launcherFor(profile({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl }), KEYS).launch(await request('liveavatar-avatar-agent'));
    const output = launched.output!;
    for (const f of tone(3000)) await output.captureFrame(f);
    output.flush();
    await waitFor(() => la.speech.length === 1 && la.speech[0]!.endedAt !== undefined, 5000, 'the speech to arrive');
    await new Promise((r) => setTimeout(r, 400));
    const t0 = Date.now();
    output.clearBuffer();
    const ev = await output.waitForPlayout();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(ev.interrupted).toBe(true);
    expect(ev.playbackPosition).toBeGreaterThan(0.1);
    expect(ev.playbackPosition).toBeLessThan(2.5);
    await waitFor(() => la.interrupts.length === 1, 2000, 'agent.interrupt');

    // The next reply is a fresh segment; the interrupted one's events cannot end it early.
    for (const f of tone(600)) await output.captureFrame(f);
    output.flush();
    const t1 = Date.now();
    const next = await output.waitForPlayout();
    expect(next.interrupted).toBe(false);
    expect(Date.now() - t1).toBeGreaterThan(300);
    expect(la.problems).toEqual([]);
    await launched.end!();
  });

  it('keeps the session alive, and a dropped websocket is reported as lost', async () => {
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    const launched = await launcherFor(profile({ adapter: 'liveavatar', avatarId: 'la-1', keepAliveSec: 5, apiUrl: la.baseUrl }), KEYS).launch(await request('liveavatar-avatar-agent'));
    await waitFor(() => la.keepAlives.length >= 1, 8000, 'a session.keep_alive');
    la.dropSockets();
    await expect(launched.lost).resolves.toMatch(/LiveAvatar closed its websocket/);
    await launched.end!();
  });
});

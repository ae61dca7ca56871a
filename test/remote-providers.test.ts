/**
 * The remote avatar providers' session calls against loopback fakes of their APIs (no room): the
 * requests are exactly what each real API takes (the fakes refuse anything else and say why), the
 * LiveKit token handed over is an agent token for one room publishing on the agent's behalf, the
 * errors name the provider and what to check and never carry a secret, and LiveAvatar's speech
 * travels over its websocket.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import WebSocket from 'ws';
import { attachAvatar } from '../src/avatar/registry.js';
import type { AvatarKeys } from '../src/config/config.js';
import { loadAvatarProfile } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';
import { createTavusEchoPal, launcherFor, livekitUrlForProvider, remoteProfileSchema, TAVUS_STOCK_PAL_ID, type RemoteProfile } from '../src/avatar/remote/index.js';
import type { LaunchRequest } from '../src/avatar/remote/launcher.js';
import { FIRST_CHUNK_S, LiveAvatarOutput } from '../src/avatar/remote/liveavatar-output.js';
import { parsePlaybackFinished } from '../src/avatar/remote/remote-output.js';
import { mintAvatarToken } from '../src/avatar/remote/token.js';
import {
  startFakeAnam,
  startFakeBey,
  startFakeHedra,
  startFakeLemonSlice,
  startFakeLiveAvatar,
  startFakeSelfhosted,
  startFakeTavus,
  DATASTREAM_PROVIDERS,
  INFERENCE_PROVIDER,
  keysFor,
  startFakeInferenceGateway,
  startFakeAvatario,
  startFakeDid,
  startFakeKeyframe,
  startFakeProtoface,
  startFakeRunway,
  startFakeSimli,
  startFakeSynthesia,
  startFakeBithuman,
  startFakeAvatarTalk,
  type ProviderFake,
} from './fakes/providers/index.js';
import { waitFor } from './fakes/wait.js';

initializeLogger({ pretty: false, level: 'error' });
const logger = createLogger({ level: 'error' });
const LIVEKIT = { url: 'ws://127.0.0.1:7880', apiKey: 'devkey', apiSecret: 'secret-secret-secret-secret-secret' };
const KEY = 'prov-key-0123456789';
const KEYS: AvatarKeys = { tavus: KEY, liveavatar: KEY, bey: KEY, anam: KEY, lemonslice: KEY, launchSecret: KEY, ...keysFor(KEY) };
const HOUR = 3600;

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

/** What launchers sent to the avatar participant over the room's data channel. */
const sentToAvatar: string[] = [];
afterEach(() => void sentToAvatar.splice(0));

async function request(identity: string, signal = new AbortController().signal): Promise<LaunchRequest> {
  const token = await mintAvatarToken({ livekit: LIVEKIT, room: 'room-1', identity, agentIdentity: 'agent-1' });
  return {
    livekitUrl: LIVEKIT.url,
    token,
    room: 'room-1',
    roomSid: 'RM_abc',
    avatarIdentity: identity,
    agentIdentity: 'agent-1',
    livekitKeys: { apiKey: LIVEKIT.apiKey, apiSecret: LIVEKIT.apiSecret },
    sendToAvatar: async (payload) => void sentToAvatar.push(payload),
    timeoutMs: 5000,
    signal,
    logger,
  };
}

describe('profiles', () => {
  it('fill defaults per provider and refuse a profile that names no avatar', () => {
    const tavus = profile({ adapter: 'tavus', palId: 'p1' });
    expect(tavus).toMatchObject({ apiUrl: 'https://tavusapi.com', sampleRate: 24000, fallback: [] });
    expect(profile({ adapter: 'lemonslice', agentId: 'a' }).sampleRate).toBe(16000);
    expect(() => remoteProfileSchema.parse({ adapter: 'lemonslice', agentId: 'a', agentImageUrl: 'https://x/y.png' })).toThrow(/exactly one/);
    expect(() => remoteProfileSchema.parse({ adapter: 'lemonslice' })).toThrow(/exactly one of agentId or agentImageUrl/);
    expect(() => remoteProfileSchema.parse({ adapter: 'liveavatar' })).toThrow(/avatarId/);
    expect(() => remoteProfileSchema.parse({ adapter: 'bey', avatarId: 'b', avatarIdentity: 'has space' })).toThrow(/participant identity/);
  });

  it("Tavus without a PAL uses Tavus' stock PAL, Beyond Presence without an avatar its stock avatar, as LiveKit's plugins do", () => {
    expect(TAVUS_STOCK_PAL_ID).toBe('pb87e71797da');
    expect(profile({ adapter: 'tavus' })).toMatchObject({ palId: 'pb87e71797da' });
    expect(profile({ adapter: 'bey' })).toMatchObject({ avatarId: 'b9be11b8-89fb-4227-8f86-4a881393cbdb' });
  });

  it('start deadlines: one per step, long enough for a 30-60 s cold start by default, set per profile', () => {
    const p = profile({ adapter: 'bey', avatarId: 'b' });
    expect(p).toMatchObject({ launchTimeoutMs: 30_000, joinTimeoutMs: 90_000, firstVideoTimeoutMs: 30_000 });
    // A provider bringing up a GPU for the avatar takes up to a minute to join: that start must not be cut off.
    expect(p.joinTimeoutMs).toBeGreaterThan(60_000);
    const tuned = profile({ adapter: 'bey', avatarId: 'b', launchTimeoutMs: 5000, joinTimeoutMs: 120_000, firstVideoTimeoutMs: 10_000 });
    expect(tuned).toMatchObject({ launchTimeoutMs: 5000, joinTimeoutMs: 120_000, firstVideoTimeoutMs: 10_000 });
    expect(() => remoteProfileSchema.parse({ adapter: 'bey', avatarId: 'b', joinTimeoutMs: 10 })).toThrow(/joinTimeoutMs|>=1000|too small/i);
  });

  it('the LiveKit URL handed to a provider is always ws:// or wss://', () => {
    expect(livekitUrlForProvider('https://my-project.livekit.cloud')).toBe('wss://my-project.livekit.cloud');
    expect(livekitUrlForProvider('HTTPS://my-project.livekit.cloud/')).toBe('wss://my-project.livekit.cloud/');
    expect(livekitUrlForProvider('http://10.0.0.5:7880')).toBe('ws://10.0.0.5:7880');
    expect(livekitUrlForProvider('wss://my-project.livekit.cloud')).toBe('wss://my-project.livekit.cloud');
    expect(livekitUrlForProvider('ws://127.0.0.1:7880')).toBe('ws://127.0.0.1:7880');
  });

  it('an lk.playback_finished payload is read as agents-js reads it; what is malformed gets a default and is named, never refused', () => {
    expect(parsePlaybackFinished('{"playback_position": 1.5, "interrupted": true, "synchronized_transcript": "hi"}')).toEqual({ position: 1.5, interrupted: true, transcript: 'hi', problems: [] });
    expect(parsePlaybackFinished('{"playbackPosition": 2, "interrupted": false}')).toEqual({ position: 2, interrupted: false, problems: [] });
    expect(parsePlaybackFinished('not json')).toEqual({ interrupted: false, problems: ['not JSON'] });
    expect(parsePlaybackFinished('[1]').problems).toEqual(['not a JSON object']);
    const odd = parsePlaybackFinished('{"playback_position": "1.2", "interrupted": "false"}');
    expect(odd).toMatchObject({ interrupted: false });
    expect(odd.position).toBeUndefined();
    expect(odd.problems).toEqual(['playback_position is not a non-negative number', 'interrupted is not a boolean']);
  });
});

describe('Hedra (its realtime API was switched off upstream on 2026-04-15)', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  async function profilesDir(profiles: Record<string, Record<string, unknown>>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'hedra-profiles-'));
    dirs.push(dir);
    for (const [name, json] of Object.entries(profiles)) {
      await mkdir(join(dir, name), { recursive: true });
      await writeFile(join(dir, name, 'avatar.json'), JSON.stringify(json));
    }
    return dir;
  }
  const fakeSession = () => ({ output: { audio: null } }) as unknown as voice.AgentSession;

  it('a Hedra profile stops at profile load, saying what happened and what to use instead, and Hedra is never called', async () => {
    const hedra = await fake(startFakeHedra(fakeOpts));
    const dir = await profilesDir({ hedra: { adapter: 'hedra', avatarId: 'h-1', apiUrl: hedra.baseUrl } });
    const err = (await loadAvatarProfile(dir, 'hedra').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/hedra\/avatar\.json: adapter names Hedra, whose realtime avatar API was switched off upstream on 2026-04-15/);
    expect(err.message).toMatch(/change adapter to another streaming provider \(tavus, liveavatar, bey, anam, lemonslice, simli, did, runway, synthesia, trugen, keyframe, avatario, protoface, bithuman or avatartalk\) or to builtin/);
    expect(() => remoteProfileSchema.parse({ adapter: 'hedra', avatarId: 'h-1' })).toThrow(/switched off upstream on 2026-04-15/);

    // A call asked to show it goes on voice only, saying why; nothing reaches Hedra.
    const avatar = await attachAvatar({ session: fakeSession(), logger, keys: KEYS }, dir, 'hedra');
    expect(avatar.handle.profile.name).toBe('none');
    expect(avatar.fallbacks[0]!.reason).toMatch(/switched off upstream on 2026-04-15/);
    await avatar.close();
    expect(hedra.requests).toEqual([]);
  });

  it('a profile whose fallback chain reaches a Hedra profile is refused at load, naming the chain', async () => {
    const hedra = await fake(startFakeHedra(fakeOpts));
    const dir = await profilesDir({
      main: { adapter: 'bey', avatarId: 'b', fallback: ['face'] },
      face: { adapter: 'builtin', fallback: ['old-hedra'] },
      'old-hedra': { adapter: 'hedra', avatarId: 'h-1', apiUrl: hedra.baseUrl },
    });
    await expect(loadAvatarProfile(dir, 'main')).rejects.toThrow(/main\/avatar\.json: fallback reaches face → old-hedra, whose profile names Hedra.*remove this profile from every fallback list/);
    await expect(loadAvatarProfile(dir, 'face')).rejects.toThrow(/fallback reaches old-hedra/);
    // The supervisor takes none of that chain: voice only, and Hedra is never called.
    const avatar = await attachAvatar({ session: fakeSession(), logger, keys: KEYS }, dir, 'main');
    expect(avatar.handle.profile.name).toBe('none');
    expect(avatar.fallbacks.map((f) => f.profile)).toEqual(['main']);
    await avatar.close();
    expect(hedra.requests).toEqual([]);
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
    // The SDK's default lifetime, as the official plugins: a provider that rejoins after a drop mid-call still can.
    expect(tavus.tokens[0]!.ttlSeconds).toBeGreaterThanOrEqual(6 * HOUR - 60);
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

  it("Tavus without a PAL in the profile starts the conversation with Tavus' stock PAL", async () => {
    const tavus = await fake(startFakeTavus({ ...fakeOpts, pals: [] }));
    await launcherFor(profile({ adapter: 'tavus', apiUrl: tavus.baseUrl }), KEYS).launch(await request('tavus-avatar-agent'));
    expect(tavus.problems).toEqual([]);
    expect(tavus.requests[0]!.body).toMatchObject({ pal_id: 'pb87e71797da' });
    expect(tavus.requests[0]!.body).not.toHaveProperty('face_id');
  });

  it('Beyond Presence, Anam, LemonSlice and a self-hosted runner: each call is what its API takes', async () => {
    const bey = await fake(startFakeBey({ ...fakeOpts, avatars: ['av-1'] }));
    await launcherFor(profile({ adapter: 'bey', avatarId: 'av-1', apiUrl: bey.baseUrl }), KEYS).launch(await request('bey-avatar-agent'));
    expect(bey.problems).toEqual([]);
    expect(bey.requests[0]!.body).toMatchObject({ avatar_id: 'av-1', livekit_url: LIVEKIT.url });
    // No avatar in the profile: Beyond Presence's stock avatar, which every account has.
    await launcherFor(profile({ adapter: 'bey', apiUrl: bey.baseUrl }), KEYS).launch(await request('bey-avatar-agent'));
    expect(bey.problems).toEqual([]);
    expect(bey.requests[1]!.body).toMatchObject({ avatar_id: 'b9be11b8-89fb-4227-8f86-4a881393cbdb' });

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

});

describe('Simli, D-ID, Runway, Synthesia, Trugen, Keyframe, Avatario, Protoface, bitHuman and AvatarTalk', () => {
  it.each([...DATASTREAM_PROVIDERS, INFERENCE_PROVIDER])('$label: starts a session its API accepts, with an agent token for one room on the agent\'s behalf', async (c) => {
    const f = await fake(c.start(fakeOpts));
    const p = profile(c.profile(f.baseUrl));
    expect(p.sampleRate).toBe(c.sampleRate);
    const launched = await launcherFor(p, KEYS).launch(await request(c.identity));
    expect(f.problems).toEqual([]);
    expect(f.started).toHaveLength(1);
    expect(f.tokens[0]).toMatchObject({ identity: c.identity, room: 'room-1', kind: 'agent', attributes: { 'lk.publish_on_behalf': 'agent-1' }, url: LIVEKIT.url });
    expect(f.tokens[0]!.ttlSeconds).toBeGreaterThanOrEqual(6 * HOUR - 60);
    await launched.end?.();
    // Ending twice (the avatar may have left first) is not an error.
    await launched.end?.();
    expect(f.ended).toEqual(c.endsSession ? f.started : []);
    expect(f.problems).toEqual([]);
  });

  it.each(DATASTREAM_PROVIDERS)('$label: errors name the provider, the status and what to check, and carry no secret', async (c) => {
    const f = await fake(c.start(fakeOpts));
    const launcher = launcherFor(profile(c.profile(f.baseUrl)), KEYS);
    const cases: [number, RegExp][] = [
      [401, new RegExp(`^${c.label} ${c.action} failed: HTTP 401, the key was refused; check ${c.keyEnv}`)],
      [402, new RegExp(`HTTP 402, payment required; the ${c.label} account is out of credits`)],
      [404, /HTTP 404; check the profile's ids/],
      [429, /HTTP 429, rate or concurrency limit/],
      [503, new RegExp(`HTTP 503, ${c.label} is failing on its side`)],
    ];
    for (const [status, message] of cases) {
      f.setKnobs({ status });
      const req = await request(c.identity);
      const err = (await launcher.launch(req).catch((e: unknown) => e)) as Error;
      expect(err.message, String(status)).toMatch(message);
      expect(err.message).not.toContain(KEY);
      expect(err.message).not.toContain(req.token);
    }
    // A wrong key is refused by the fake as by the real API; a missing one names the variable.
    f.setKnobs({ status: undefined });
    const wrong = launcherFor(profile(c.profile(f.baseUrl)), { [c.keyName]: 'nope-nope-nope' });
    await expect(wrong.launch(await request(c.identity))).rejects.toThrow(new RegExp(`HTTP 401.*${c.keyEnv}`));
    expect(() => launcherFor(profile(c.profile(f.baseUrl)), {})).toThrow(`${c.label} avatar: ${c.keyEnv} is not set`);
  });

  it('Simli: a session token for the face and emotion, then the LiveKit join with it (not the key)', async () => {
    const simli = await fake(startFakeSimli({ ...fakeOpts, faces: ['f-9'] }));
    await launcherFor(profile({ adapter: 'simli', faceId: 'f-9', maxIdleTimeSec: 45, apiUrl: simli.baseUrl }), KEYS).launch(await request('simli-avatar-agent'));
    expect(simli.problems).toEqual([]);
    expect(simli.requests.map((r) => r.endpoint)).toEqual(['token', 'livekit']);
    expect(simli.requests[0]!.headers['x-simli-api-key']).toBe(KEY);
    expect(simli.requests[0]!.body).toEqual({ faceId: 'f-9/92f24a0c-f046-45df-8df0-af7449c04571', handleSilence: true, maxSessionLength: 600, maxIdleTime: 45 });
    expect(simli.requests[1]!.headers['x-simli-api-key']).toBeUndefined();
    expect(simli.requests[1]!.body).toMatchObject({ session_token: expect.stringMatching(/^simli-st-/), livekit_url: LIVEKIT.url });
  });

  it('D-ID: Basic auth with the key as issued, the LiveKit transport and the audio rate', async () => {
    const did = await fake(startFakeDid({ ...fakeOpts, agents: ['agt-7'] }));
    await launcherFor(profile({ adapter: 'did', agentId: 'agt-7', sampleRate: 48000, apiUrl: did.baseUrl }), KEYS).launch(await request('d-id-avatar-agent'));
    expect(did.problems).toEqual([]);
    expect(did.requests[0]!.path).toBe('/v2/agents/agt-7/sessions/join');
    expect(did.requests[0]!.headers.authorization).toBe(`Basic ${KEY}`);
    expect(did.requests[0]!.body).toMatchObject({ transport: { provider: 'livekit', server_url: LIVEKIT.url, room_name: 'room-1' }, audio_config: { sample_rate: 48000 } });
    expect(() => remoteProfileSchema.parse({ adapter: 'did' })).toThrow(/agentId/);
  });

  it('Runway: Bearer secret and API version, a preset or a custom avatar, and END_CALL to the avatar on close', async () => {
    const runway = await fake(startFakeRunway(fakeOpts));
    const launched = await launcherFor(profile({ adapter: 'runway', avatarId: 'av-mine', maxDurationSec: 300, apiUrl: runway.baseUrl }), KEYS).launch(await request('runway-avatar-agent'));
    expect(runway.problems).toEqual([]);
    expect(runway.requests[0]!.headers).toMatchObject({ authorization: `Bearer ${KEY}`, 'x-runway-version': '2024-11-06' });
    expect(runway.requests[0]!.body).toMatchObject({
      model: 'gwm1_avatars',
      avatar: { type: 'custom', avatarId: 'av-mine' },
      livekit: { url: LIVEKIT.url, roomName: 'room-1', agentIdentity: 'agent-1' },
      maxDuration: 300,
    });
    await launched.end!();
    expect(sentToAvatar).toEqual(['{"type":"END_CALL"}']);
    expect(() => remoteProfileSchema.parse({ adapter: 'runway' })).toThrow(/exactly one of avatarId or presetId/);
    expect(() => remoteProfileSchema.parse({ adapter: 'runway', avatarId: 'a', presetId: 'b' })).toThrow(/exactly one/);
  });

  it('Synthesia: the raw key, av_-prefixed avatar ids, and its problem+json errors quoted with what they mean', async () => {
    const syn = await fake(startFakeSynthesia({ ...fakeOpts, avatars: ['av_1', 'av_2'] }));
    const launcher = launcherFor(profile({ adapter: 'synthesia', avatarIds: ['1', 'av_2'], apiUrl: syn.baseUrl }), KEYS);
    await launcher.launch(await request('synthesia-avatar-agent'));
    expect(syn.problems).toEqual([]);
    expect(syn.requests[0]!.headers.authorization).toBe(KEY);
    expect(syn.requests[0]!.body).toMatchObject({ avatarIds: ['av_1', 'av_2'], livekitUrl: LIVEKIT.url });
    syn.setKnobs({ status: 403 });
    await expect(launcher.launch(await request('synthesia-avatar-agent'))).rejects.toThrow(/HTTP 403, not in the plan \(feature_not_in_plan\).*\(feature_not_in_plan: feature_not_in_plan: fake status 403\)/);
    syn.setKnobs({ status: undefined });
    const unknown = launcherFor(profile({ adapter: 'synthesia', avatarIds: ['av_nope'], apiUrl: syn.baseUrl }), KEYS);
    await expect(unknown.launch(await request('synthesia-avatar-agent'))).rejects.toThrow(/HTTP 404.*unknown_avatar.*avatar av_nope is not in your gallery/);
    expect(() => remoteProfileSchema.parse({ adapter: 'synthesia', avatarIds: [] })).toThrow();
    expect(() => remoteProfileSchema.parse({ adapter: 'synthesia', avatarIds: ['1', '2', '3', '4', '5', '6'] })).toThrow();
  });

  it("Keyframe and Avatario send the agent's identity; Protoface names the worker and ends the session", async () => {
    const kf = await fake(startFakeKeyframe(fakeOpts));
    const reserved = await launcherFor(profile({ adapter: 'keyframe', personaId: 'persona-1', apiUrl: kf.baseUrl }), KEYS).launch(await request('keyframe-avatar-agent'));
    expect(kf.problems).toEqual([]);
    expect(kf.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(kf.requests[0]!.body).toEqual({ room_name: 'room-1', livekit_url: LIVEKIT.url, livekit_token: expect.any(String), source_participant_identity: 'agent-1', persona_id: 'persona-1' });
    expect(reserved.sessionId).toMatch(/^res_/);
    expect(() => remoteProfileSchema.parse({ adapter: 'keyframe' })).toThrow(/exactly one of personaId or personaSlug/);

    const av = await fake(startFakeAvatario(fakeOpts));
    await launcherFor(profile({ adapter: 'avatario', avatarId: 'face-1', apiUrl: av.baseUrl }), KEYS).launch(await request('avatario-avatar-agent'));
    expect(av.problems).toEqual([]);
    expect(av.requests[0]!.body).toMatchObject({ avatario_face_id: 'face-1', agent_id: 'agent-1', livekit: { url: LIVEKIT.url }, video_width: 1280, video_height: 720, custom_background_url: null });

    const pf = await fake(startFakeProtoface(fakeOpts));
    const session = await launcherFor(profile({ adapter: 'protoface', maxDurationSec: 120, apiUrl: pf.baseUrl }), KEYS).launch(await request('protoface-avatar-agent'));
    expect(pf.requests[0]!.body).toMatchObject({
      avatar_id: 'av_stock_001',
      transport: { type: 'livekit', url: LIVEKIT.url, room_name: 'room-1', worker_identity: 'protoface-avatar-agent', audio_source: 'data_stream' },
      max_duration_seconds: 120,
    });
    await session.end!();
    expect(pf.requests.at(-1)).toMatchObject({ endpoint: 'end', path: `/v1/sessions/${session.sessionId}/end` });
    expect(pf.problems).toEqual([]);
  });
});

describe('bitHuman (cloud) and AvatarTalk', () => {
  /** Every claim of a LiveKit JWT, as anyone holding it (the provider, the room's participants) reads it. */
  const claimsOf = (jwt: string) => Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8');

  it('bitHuman: the secret goes in the api-secret header only, never into the avatar\'s token; mode, model and agent as bitHuman documents them; close ends the session', async () => {
    const bh = await fake(startFakeBithuman({ ...fakeOpts, agents: ['A91XYZ0001'] }));
    const req = await request('bithuman-avatar-agent');
    const launched = await launcherFor(profile({ adapter: 'bithuman', agentId: 'A91XYZ0001', apiUrl: bh.baseUrl }), KEYS).launch(req);
    expect(bh.problems).toEqual([]);
    const start = bh.requests[0]!;
    expect(start.path).toBe('/v1/runtime-tokens/request');
    expect(start.headers['api-secret']).toBe(KEY);
    expect(start.headers.authorization).toBeUndefined();
    // An agent without a model named: bitHuman serves the agent's own, on the CPU path (as LiveKit's plugin asks for an Essence agent).
    expect(start.body).toEqual({ livekit_url: LIVEKIT.url, livekit_token: req.token, room_name: 'room-1', mode: 'cpu', agent_id: 'A91XYZ0001' });
    // The avatar's token: only lk.publish_on_behalf, no bitHuman credential anywhere in it (LiveKit's plugin adds `api_secret`).
    expect(bh.tokens[0]!.attributes).toEqual({ 'lk.publish_on_behalf': 'agent-1' });
    expect(claimsOf(req.token)).not.toContain(KEY);
    expect(JSON.stringify(start.body)).not.toContain(KEY);
    expect(launched.sessionId).toMatch(/^cs_/);
    await launched.end!();
    expect(bh.requests.at(-1)).toMatchObject({ endpoint: 'end', path: `/v1/runtime-sessions/${launched.sessionId}/end`, status: 200 });
    expect(bh.requests.at(-1)!.headers['api-secret']).toBe(KEY);
    expect(bh.ended).toEqual([launched.sessionId]);

    // An Expression model runs on the GPU path; a photo alone runs on expression-1, as bitHuman requires.
    await launcherFor(profile({ adapter: 'bithuman', agentId: 'A91XYZ0001', model: 'expression-2', apiUrl: bh.baseUrl }), KEYS).launch(await request('bithuman-avatar-agent'));
    expect(bh.requests.at(-1)!.body).toMatchObject({ mode: 'gpu', model: 'expression-2', agent_id: 'A91XYZ0001' });
    await launcherFor(profile({ adapter: 'bithuman', imageUrl: 'https://example.com/me.jpg', apiUrl: bh.baseUrl }), KEYS).launch(await request('bithuman-avatar-agent'));
    expect(bh.requests.at(-1)!.body).toMatchObject({ mode: 'gpu', model: 'expression-1', image: 'https://example.com/me.jpg' });
    expect(bh.requests.at(-1)!.body).not.toHaveProperty('agent_id');
    expect(bh.problems).toEqual([]);
  });

  it("bitHuman: its error codes say what a 403 is (the plan's session cap, a plan without the model, or a revoked secret); a bad profile is refused at load", async () => {
    const cases: [string, RegExp][] = [
      ['CONCURRENCY_LIMIT_REACHED', /^bitHuman start cloud avatar failed: HTTP 403, concurrency limit reached \(CONCURRENCY_LIMIT_REACHED\); too many sessions at once for this bitHuman plan/],
      ['PLAN_REQUIRED', /HTTP 403, not in the plan \(PLAN_REQUIRED\); the bitHuman account's plan does not include this/],
      ['RUNTIME_SUSPENDED', /HTTP 403, the key was refused; check BITHUMAN_API_SECRET.*\(RUNTIME_SUSPENDED: fake status 403\)/],
    ];
    for (const [code403, message] of cases) {
      const bh = await fake(startFakeBithuman({ ...fakeOpts, code403, knobs: { status: 403 } }));
      const req = await request('bithuman-avatar-agent');
      const err = (await launcherFor(profile({ adapter: 'bithuman', agentId: 'A23WJF0199', apiUrl: bh.baseUrl }), KEYS).launch(req).catch((e: unknown) => e)) as Error;
      expect(err.message, code403).toMatch(message);
      expect(err.message).not.toContain(KEY);
      expect(err.message).not.toContain(req.token);
    }
    const bh = await fake(startFakeBithuman(fakeOpts));
    await expect(launcherFor(profile({ adapter: 'bithuman', agentId: 'A00NOPE000', apiUrl: bh.baseUrl }), KEYS).launch(await request('bithuman-avatar-agent'))).rejects.toThrow(
      /HTTP 404; check the profile's ids.*NOT_FOUND: Agent not found for code: A00NOPE000/,
    );
    expect(() => launcherFor(profile({ adapter: 'bithuman', agentId: 'A23WJF0199' }), {})).toThrow('bitHuman avatar: BITHUMAN_API_SECRET is not set; add it to the worker');
    expect(() => remoteProfileSchema.parse({ adapter: 'bithuman' })).toThrow(/agentId.*set agentId \(a bitHuman agent code\)/s);
    expect(() => remoteProfileSchema.parse({ adapter: 'bithuman', imageUrl: 'https://example.com/a.jpg', model: 'essence-2' })).toThrow(/expression-1 only/);
    expect(remoteProfileSchema.parse({ adapter: 'bithuman', agentId: 'A23WJF0199' })).toMatchObject({ apiUrl: 'https://api.bithuman.ai', sampleRate: 16_000 });
  });

  it('the bitHuman fake accepts what bitHuman documents and refuses what it refuses', async () => {
    const bh = await fake(startFakeBithuman(fakeOpts));
    const token = await mintAvatarToken({ livekit: LIVEKIT, room: 'room-1', identity: 'bithuman-avatar-agent', agentIdentity: 'agent-1' });
    const post = (body: unknown, secret: string | null = KEY) =>
      fetch(`${bh.baseUrl}/v1/runtime-tokens/request`, { method: 'POST', headers: { 'content-type': 'application/json', ...(secret ? { 'api-secret': secret } : {}) }, body: JSON.stringify(body) });
    const lk = { livekit_url: 'https://my-project.livekit.cloud', livekit_token: token, room_name: 'room-1' };
    // Without mode only a runtime token is issued, and no avatar starts.
    const tokenOnly = await post({});
    expect(tokenOnly.status).toBe(200);
    expect(await tokenOnly.json()).not.toHaveProperty('avatar_session_started');
    // The documented request (gpu, a model, the agent) starts one.
    const started = await post({ ...lk, mode: 'gpu', model: 'essence-2', agent_id: 'A23WJF0199' });
    expect(await started.json()).toMatchObject({ avatar_session_started: true, model: 'essence-2', session_id: expect.stringMatching(/^cs_/) });
    expect(bh.problems).toEqual([]);
    expect(bh.started).toHaveLength(1);
    // What bitHuman refuses: cpu without an agent, a photo on another model than expression-1, no secret, a wrong one.
    expect((await post({ ...lk, mode: 'cpu', image: 'https://example.com/a.jpg' })).status).toBe(400);
    expect((await post({ ...lk, mode: 'gpu', model: 'essence-2', image: 'https://example.com/a.jpg' })).status).toBe(400);
    const missing = await post({ ...lk, mode: 'gpu', agent_id: 'A23WJF0199' }, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: { code: 'MISSING_AUTH', httpStatus: 401 }, status: 'error', status_code: 401 });
    expect((await post({ ...lk, mode: 'gpu', agent_id: 'A23WJF0199' }, 'wrong-secret')).status).toBe(401);
  });

  it('AvatarTalk: the avatar\'s token and a plain `listener` token, as its plugin mints them; the speech goes to the listener; close deletes the session', async () => {
    const at = await fake(startFakeAvatarTalk({ ...fakeOpts, avatars: ['anime_girl'] }));
    const launcher = launcherFor(profile({ adapter: 'avatartalk', avatar: 'anime_girl', emotion: 'happy', apiUrl: at.baseUrl }), KEYS);
    expect(launcher.speechIdentity).toBe('listener');
    const req = await request('avatartalk-agent');
    const launched = await launcher.launch(req);
    expect(at.problems).toEqual([]);
    const create = at.requests[0]!;
    expect(create.path).toBe('/livekit/create-session');
    expect(create.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(create.body).toEqual({
      livekit_url: LIVEKIT.url,
      avatar: 'anime_girl',
      emotion: 'happy',
      room_name: 'room-1',
      room_token: req.token,
      listener_token: expect.any(String),
      agent_identity: 'agent-1',
    });
    // The avatar: an agent on the agent's behalf. The listener: a plain participant of this room, no attributes.
    expect(at.tokens[0]).toMatchObject({ identity: 'avatartalk-agent', kind: 'agent', attributes: { 'lk.publish_on_behalf': 'agent-1' } });
    const listener = at.tokens[1]!;
    expect(listener).toMatchObject({ identity: 'listener', name: 'listener', room: 'room-1', attributes: {} });
    expect(listener.kind ?? 'standard').toBe('standard');
    expect(listener.grants).toMatchObject({ roomJoin: true, room: 'room-1', canSubscribe: true });
    for (const admin of ['roomAdmin', 'roomCreate', 'roomList', 'roomRecord']) expect(listener.grants[admin], admin).toBeFalsy();
    expect(launched.sessionId).toMatch(/^task_/);
    await launched.end!();
    expect(at.requests.at(-1)).toMatchObject({ method: 'DELETE', path: `/livekit/delete-session/${launched.sessionId}`, status: 200 });
    expect(at.ended).toEqual([launched.sessionId]);
    // Defaults as LiveKit's plugin's.
    expect(remoteProfileSchema.parse({ adapter: 'avatartalk' })).toMatchObject({ avatar: 'japanese_man', emotion: 'expressive', sampleRate: 16_000, apiUrl: 'https://api.avatartalk.ai' });
  });

  it('AvatarTalk: an error quotes its detail without either token; a missing key names AVATARTALK_API_KEY', async () => {
    const at = await fake(startFakeAvatarTalk(fakeOpts));
    const req = await request('avatartalk-agent');
    const err = (await launcherFor(profile({ adapter: 'avatartalk', avatar: 'nobody', apiUrl: at.baseUrl }), KEYS).launch(req).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^AvatarTalk create session failed: HTTP 404; check the profile's ids.*avatar nobody not found/);
    const listenerToken = (at.requests[0]!.body as { listener_token: string }).listener_token;
    for (const secret of [KEY, req.token, listenerToken]) expect(err.message).not.toContain(secret);
    expect(() => launcherFor(profile({ adapter: 'avatartalk' }), {})).toThrow('AvatarTalk avatar: AVATARTALK_API_KEY is not set');
  });
});

describe('LiveKit Inference avatars (agents 1.9 inference.AvatarSession)', () => {
  it('signs the gateway call with the LiveKit key pair (no provider key), lets the gateway mint the token, speaks at the answered rate, and terminates', async () => {
    const gw = await fake(startFakeInferenceGateway({ ...fakeOpts, providers: { lemonslice: 24_000 } }));
    const p = profile({ adapter: 'inference', model: 'lemonslice/agent_1', prompt: 'smile', idleTimeoutSec: 60, apiUrl: gw.baseUrl });
    const launcher = launcherFor(p, {});
    const launched = await launcher.launch(await request('lemonslice-inference-avatar'));
    expect(gw.problems).toEqual([]);
    const sent = gw.requests[0]!;
    expect(sent.headers.authorization).toMatch(/^Bearer eyJ/);
    expect(sent.headers['idempotency-key']).toMatch(/^[0-9a-f]{32}$/);
    expect(sent.body).toEqual({
      provider: 'lemonslice',
      livekit_url: LIVEKIT.url,
      room_name: 'room-1',
      room_sid: 'RM_abc',
      avatar_identity: 'lemonslice-inference-avatar',
      avatar_name: 'lemonslice-inference-avatar',
      agent_identity: 'agent-1',
      avatar_id: 'agent_1',
      prompt: 'smile',
      idle_timeout_s: 60,
    });
    // The token the gateway minted: ours was never sent.
    expect(JSON.stringify(sent.body)).not.toContain((await request('x')).token.slice(0, 20));
    expect(gw.tokens[0]).toMatchObject({ identity: 'lemonslice-inference-avatar', kind: 'agent', attributes: { 'lk.publish_on_behalf': 'agent-1' } });
    expect(launched.sampleRate).toBe(24_000);
    await launched.end!();
    expect(gw.requests.at(-1)).toMatchObject({ endpoint: 'terminate', status: 200 });
    expect(gw.ended).toHaveLength(1);
    expect(() => remoteProfileSchema.parse({ adapter: 'inference', model: 'lemonslice/a', imageUrl: 'https://x/y.png' })).toThrow(/not both/);
    expect(() => remoteProfileSchema.parse({ adapter: 'inference', model: 'Bad Model' })).toThrow(/<provider>/);
  });

  it('a wrong LiveKit secret, an unknown provider and a gateway failure are named; a token minted for another identity is refused and the session terminated', async () => {
    const gw = await fake(startFakeInferenceGateway(fakeOpts));
    const p = profile({ adapter: 'inference', model: 'lemonslice', apiUrl: gw.baseUrl });
    const wrongSecret = { ...(await request('lemonslice-inference-avatar')), livekitKeys: { apiKey: LIVEKIT.apiKey, apiSecret: 'not-the-secret-not-the-secret-xx' } };
    await expect(launcherFor(p, {}).launch(wrongSecret)).rejects.toThrow(/^LiveKit Inference avatar create session failed: HTTP 401.*LIVEKIT_API_KEY \/ LIVEKIT_API_SECRET/);
    await expect(launcherFor(profile({ adapter: 'inference', model: 'nobody', apiUrl: gw.baseUrl }), {}).launch(await request('nobody-inference-avatar'))).rejects.toThrow(/HTTP 404.*nobody is not available/);
    gw.setKnobs({ status: 503 });
    await expect(launcherFor(p, {}).launch(await request('lemonslice-inference-avatar'))).rejects.toThrow(/HTTP 503, LiveKit Inference avatar is failing on its side/);
    gw.setKnobs({ status: undefined });
    gw.mintIdentity = 'someone-else';
    await expect(launcherFor(p, {}).launch(await request('lemonslice-inference-avatar'))).rejects.toThrow(/minted the avatar's token for someone-else.*set avatarIdentity/);
    expect(gw.ended).toHaveLength(1);
  });
});

describe('the fakes accept what the real APIs accept', () => {
  /** A token as LiveKit's plugins mint it: the SDK's default lifetime (6 h), only roomJoin and the room. */
  async function officialToken(identity: string): Promise<string> {
    const at = new AccessToken(LIVEKIT.apiKey, LIVEKIT.apiSecret, { identity, name: identity });
    at.kind = 'agent';
    at.attributes = { 'lk.publish_on_behalf': 'agent-1' };
    at.addGrant({ roomJoin: true, room: 'room-1' });
    return at.toJwt();
  }

  it('every fake takes a 6 h token and an https:// LiveKit URL (LiveKit Cloud projects set one)', async () => {
    const cloud = 'https://my-project.livekit.cloud';
    const cases: [string, ProviderFake, RemoteProfile][] = [];
    const tavus = await fake(startFakeTavus(fakeOpts));
    cases.push(['tavus-avatar-agent', tavus, profile({ adapter: 'tavus', apiUrl: tavus.baseUrl })]);
    const bey = await fake(startFakeBey({ ...fakeOpts, avatars: ['av-1'] }));
    cases.push(['bey-avatar-agent', bey, profile({ adapter: 'bey', avatarId: 'av-1', apiUrl: bey.baseUrl })]);
    const anam = await fake(startFakeAnam(fakeOpts));
    cases.push(['anam-avatar-agent', anam, profile({ adapter: 'anam', avatarId: 'an-1', apiUrl: anam.baseUrl })]);
    const lemon = await fake(startFakeLemonSlice(fakeOpts));
    cases.push(['lemonslice-avatar-agent', lemon, profile({ adapter: 'lemonslice', agentId: 'ag-1', apiUrl: lemon.baseUrl })]);
    const runner = await fake(startFakeSelfhosted(fakeOpts));
    cases.push(['selfhosted-avatar-agent', runner, profile({ adapter: 'selfhosted', apiUrl: runner.baseUrl })]);
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    cases.push(['liveavatar-avatar-agent', la, profile({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl })]);
    for (const c of DATASTREAM_PROVIDERS) {
      const f = await fake(c.start(fakeOpts));
      cases.push([c.identity, f, profile(c.profile(f.baseUrl))]);
    }
    for (const [identity, provider, p] of cases) {
      const req = { ...(await request(identity)), livekitUrl: cloud, token: await officialToken(identity) };
      const launched = await launcherFor(p, KEYS).launch(req);
      expect(provider.problems, p.adapter).toEqual([]);
      expect(provider.tokens[0]!.ttlSeconds, p.adapter).toBeGreaterThanOrEqual(6 * HOUR - 60);
      expect(provider.tokens[0]!.url, p.adapter).toBe(cloud);
      await launched.end?.();
    }
  });

  it('a field the API does not know is ignored, as the real API ignores it, and noted', async () => {
    const lemon = await fake(startFakeLemonSlice(fakeOpts));
    const token = await officialToken('lemonslice-avatar-agent');
    const res = await fetch(`${lemon.baseUrl}/api/liveai/sessions`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ transport_type: 'livekit', properties: { livekit_url: LIVEKIT.url, livekit_token: token }, agent_id: 'ag-1', some_new_option: true }),
    });
    expect(res.status).toBe(200);
    expect(lemon.problems).toEqual([]);
    expect(lemon.ignored).toEqual(['sessions: some_new_option']);
    // What the real API does refuse still is: a missing required field, a wrong key.
    const bad = await fetch(`${lemon.baseUrl}/api/liveai/sessions`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'ag-1' }) });
    expect(bad.status).toBe(422);
    const wrongKey = await fetch(`${lemon.baseUrl}/api/liveai/sessions`, { method: 'POST', headers: { 'x-api-key': 'nope-nope', 'content-type': 'application/json' }, body: '{}' });
    expect(wrongKey.status).toBe(401);
  });

  it('LemonSlice takes an uploaded image (multipart payload + image), as its official plugin sends one', async () => {
    const lemon = await fake(startFakeLemonSlice(fakeOpts));
    const form = new FormData();
    form.append('payload', JSON.stringify({ transport_type: 'livekit', properties: { livekit_url: LIVEKIT.url, livekit_token: await officialToken('lemonslice-avatar-agent') } }));
    form.append('image', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }), 'image.png');
    const res = await fetch(`${lemon.baseUrl}/api/liveai/sessions`, { method: 'POST', headers: { 'x-api-key': KEY }, body: form });
    expect(res.status).toBe(200);
    const { session_id } = (await res.json()) as { session_id: string };
    expect(lemon.problems).toEqual([]);
    expect(lemon.images.get(session_id)).toEqual({ type: 'image/png', size: 4 });
  });

  it('LiveAvatar takes speech as its official plugin sends it: a fresh event_id on every message, speak_end included', async () => {
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    const launched = await launcherFor(profile({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl }), KEYS).launch(await request('liveavatar-avatar-agent'));
    await launched.output!.close();
    const startAnswer = la.requests.find((r) => r.endpoint === 'start')!;
    expect(startAnswer.status).toBe(200);
    // Our own socket to the same session, speaking as LiveKit's plugin does.
    const wsUrl = `${la.baseUrl.replace(/^http/, 'ws')}/v1/sessions/ws/${launched.sessionId!}`;
    const ws = new WebSocket(wsUrl);
    const events: string[] = [];
    ws.on('message', (d) => events.push((JSON.parse(d.toString()) as { type: string }).type));
    await waitFor(() => events.includes('session.state_updated') && ws.readyState === WebSocket.OPEN, 5000, 'the socket to connect');
    const chunk = (s: number) => Buffer.from(new Int16Array(Math.round(s * 24_000)).fill(1000).buffer).toString('base64');
    let n = 0;
    const id = () => `evt-${++n}`;
    ws.send(JSON.stringify({ type: 'agent.speak', event_id: id(), audio: chunk(0.6) }));
    ws.send(JSON.stringify({ type: 'agent.speak', event_id: id(), audio: chunk(0.4) }));
    ws.send(JSON.stringify({ type: 'agent.speak_end', event_id: id() }));
    ws.send(JSON.stringify({ type: 'agent.start_listening', event_id: id() }));
    await waitFor(() => events.includes('agent.speak_ended'), 5000, 'agent.speak_ended');
    ws.close();
    expect(la.problems).toEqual([]);
    expect(la.speech).toHaveLength(1);
    expect(la.speech[0]!.pcm.reduce((k, p) => k + p.length, 0)).toBe(24_000);
    await launched.end!();
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

    for (const f of tone(2800)) await output.captureFrame(f);
    output.flush();
    const ev = await output.waitForPlayout();
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(2.8, 1);
    expect(la.speech).toHaveLength(1);
    const samples = la.speech[0]!.pcm.reduce((n, p) => n + p.length, 0);
    expect(samples).toBe(2.8 * 24_000);
    // At least 0.6 s first (the avatar must not run dry before the next arrives), then about 1 s each, the rest last.
    expect(FIRST_CHUNK_S).toBeGreaterThanOrEqual(0.6);
    expect(la.speech[0]!.pcm.map((p) => p.length / 24_000)).toEqual([0.6, 1.0, 1.0, expect.closeTo(0.2, 5)]);
    expect(started).toHaveLength(1);
    expect(timings).toHaveLength(1);
    expect(la.problems).toEqual([]);
    // As LiveKit's plugin does: the avatar is told to listen once the reply is sent.
    const types = (la.commands as { type: string }[]).map((c) => c.type).filter((t) => t !== 'session.keep_alive');
    expect(types.slice(-2)).toEqual(['agent.speak_end', 'agent.start_listening']);

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
    // The user is speaking: the avatar is told to listen, as LiveKit's plugin tells it after an interruption.
    const sinceInterrupt = () => {
      const types = (la.commands as { type: string }[]).map((c) => c.type).filter((t) => t !== 'session.keep_alive');
      return types.slice(types.indexOf('agent.interrupt'));
    };
    await waitFor(() => sinceInterrupt().length >= 2, 2000, 'the message after agent.interrupt');
    expect(sinceInterrupt()).toEqual(['agent.interrupt', 'agent.start_listening']);

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

  // 150 ms: the avatar's "ran dry" reaches the worker after the rest of the reply has been sent,
  // as it does when the two messages cross on a slow link; it must not end the reply.
  it.each([0, 150])("an early agent.speak_ended (the voice came slower than real time) does not cut the reply: the rest is sent and played, and its end is the avatar's (its events %i ms late)", async (eventDelayMs) => {
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    la.endWhenDry = true;
    la.eventDelayMs = eventDelayMs;
    const launched = await launcherFor(profile({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl }), KEYS).launch(await request('liveavatar-avatar-agent'));
    const output = launched.output!;
    const finished: voice.PlaybackFinishedEvent[] = [];
    output.on(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, (ev: voice.PlaybackFinishedEvent) => finished.push(ev));
    // The first 0.6 s of the reply, then the voice stalls until the avatar has played it all.
    for (const f of tone(600)) await output.captureFrame(f);
    await waitFor(() => la.events.some((e) => e.type === 'agent.speak_ended'), 5000, 'the avatar to run dry');
    expect(finished).toEqual([]);
    const resumed = Date.now();
    for (const f of tone(1400)) await output.captureFrame(f);
    output.flush();
    const ev = await output.waitForPlayout();
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(2.0, 1);
    // All of it reached the avatar, and the reply ended when the avatar had played the rest.
    expect(la.speech).toHaveLength(1);
    expect(la.speech[0]!.pcm.reduce((n, p) => n + p.length, 0)).toBe(2.0 * 24_000);
    expect(Date.now() - resumed).toBeGreaterThan(1200);
    expect(la.problems).toEqual([]);

    // A reply whose last audio had all played out when it ended ends at once: no further speak_ended will come.
    for (const f of tone(600)) await output.captureFrame(f);
    await waitFor(() => la.events.filter((e) => e.type === 'agent.speak_ended').length >= 3, 5000, 'the avatar to run dry again');
    const t0 = Date.now();
    output.flush();
    const last = await output.waitForPlayout();
    expect(last).toMatchObject({ interrupted: false });
    expect(Date.now() - t0).toBeLessThan(1000);
    await launched.end!();
  });

  it('tells the avatar to stop listening when the agent goes idle, as the official plugin does', async () => {
    const la = await fake(startFakeLiveAvatar({ ...fakeOpts, avatars: ['la-1'] }));
    const launched = await launcherFor(profile({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl: la.baseUrl }), KEYS).launch(await request('liveavatar-avatar-agent'));
    const session = new voice.AgentSession({});
    launched.output!.bindSession!(session);
    session.emit(voice.AgentSessionEventTypes.AgentStateChanged, voice.createAgentStateChangedEvent('speaking', 'listening'));
    session.emit(voice.AgentSessionEventTypes.AgentStateChanged, voice.createAgentStateChangedEvent('listening', 'idle'));
    await waitFor(() => (la.commands as { type: string }[]).some((c) => c.type === 'agent.stop_listening'), 5000, 'agent.stop_listening');
    expect((la.commands as { type: string }[]).filter((c) => c.type === 'agent.stop_listening')).toHaveLength(1);
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

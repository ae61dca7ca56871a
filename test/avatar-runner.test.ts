/**
 * The Node avatar runner end to end on the LiveKit-protocol test server: an agent (agents'
 * `voice.DataStreamAudioOutput` in an rtc-node Room, as a worker with a `selfhosted` avatar has)
 * launches the runner over real HTTP with a token the server minted; the runner joins as
 * `selfhosted-avatar-agent`, renders the builtin face to the agent's speech and publishes
 * avatar_video + avatar_audio; a viewer subscribes and measures what a person would see and hear.
 */
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose, Room, TrackKind, type RemoteTrack } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbaFrame } from '../src/avatar/frames/frame-source.js';
import type { AvatarMediaSink, MediaFormat } from '../src/avatar/local/media-sink.js';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { RoomMediaSink } from '../src/avatar/local/room-sink.js';
import { createRunnerServer, type AvatarRunnerServer } from '../src/avatar/runner/server.js';
import { PUBLISH_ON_BEHALF_ATTRIBUTE } from '../src/avatar/runner/protocol.js';
import { loadRunnerConfig } from '../src/avatar/runner/env.js';
import { builtinProfileSchema } from '../src/config/avatar-profile.js';
import { ConfigError } from '../src/config/config.js';
import { createLogger } from '../src/logging.js';
import { synthesize } from './fakes/speech.js';
import { mouthOpenness, pearson, speechEnvelope } from './support/avatar-measures.js';
import { between, bestLag, median, mouthMotion, percentile, voiceSpan } from './e2e/signals.js';
import { now, recordAudio, recordVideo, type ReceivedAudioFrame, type ReceivedVideoFrame, type Recorder } from './e2e/viewer.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, nextEvent, RoomEvent, sleep, waitUntil, withTimeout } from './livekit-server/testing.js';

const SECRET = 'runner-test-secret-0123456789';
const AVATAR_IDENTITY = 'selfhosted-avatar-agent';
/** The agent streams at 16 kHz (as Hedra's and LemonSlice's avatars take it); the face plays at 24 kHz. */
const AGENT_RATE = 16_000;
const ROOM = 'runner-room';

let server: TestLiveKitServer;
let runner: AvatarRunnerServer;
let runnerUrl: string;
let agent: Room;
let viewer: Room;
let output: voice.DataStreamAudioOutput;
let video: Recorder<ReceivedVideoFrame>;
let audio: Recorder<ReceivedAudioFrame>;
const started: number[] = [];
const finished: { playbackPosition: number; interrupted: boolean; at: number }[] = [];
const measured: Record<string, string> = {};
const marks: Record<string, number> = {};
/** What the runner rendered, frame by frame, beside what it published: exact, before any codec. */
const rendered = new MemoryMediaSink();

/** Publishes as the runner would, and keeps a copy in memory. */
class TeeSink implements AvatarMediaSink {
  constructor(
    private readonly room: AvatarMediaSink,
    private readonly copy: AvatarMediaSink,
  ) {}
  async start(format: MediaFormat): Promise<void> {
    await Promise.all([this.room.start(format), this.copy.start(format)]);
  }
  pushAudio(pcm: Int16Array, speech: boolean): void {
    this.room.pushAudio(pcm, speech);
    this.copy.pushAudio(pcm, speech);
  }
  pushVideo(frame: RgbaFrame, timeMs: number): void {
    this.copy.pushVideo(frame, timeMs);
    this.room.pushVideo(frame, timeMs);
  }
  clearAudio(): void {
    this.room.clearAudio();
    this.copy.clearAudio();
  }
  queuedAudioMs(): number {
    return this.room.queuedAudioMs();
  }
  async close(): Promise<void> {
    await Promise.all([this.room.close(), this.copy.close()]);
  }
}

/** `secret: null` sends no Authorization header. */
function launch(body: unknown, secret: string | null = SECRET): Promise<Response> {
  return fetch(`${runnerUrl}/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret !== null ? { authorization: `Bearer ${secret}` } : {}) },
    body: JSON.stringify(body),
  });
}

function avatarToken(room = ROOM): Promise<string> {
  return server.token({ identity: AVATAR_IDENTITY, name: AVATAR_IDENTITY, room, kind: 'agent', attributes: { [PUBLISH_ON_BEHALF_ATTRIBUTE]: 'agent' } });
}

/** Hands speech to the output as AgentSession does: 20 ms frames, faster than real time, then flush. */
async function speak(samples: Int16Array): Promise<void> {
  const step = AGENT_RATE / 50;
  for (let at = 0; at < samples.length; at += step) {
    const piece = samples.slice(at, Math.min(samples.length, at + step));
    await output.captureFrame(new AudioFrame(piece, AGENT_RATE, 1, piece.length));
  }
  output.flush();
}

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
  const profile = { ...builtinProfileSchema.parse({ adapter: 'builtin' }), name: 'default' };
  const logger = createLogger({ level: 'warn', secrets: [SECRET] });
  runner = await createRunnerServer({
    launchSecret: SECRET,
    profile,
    logger,
    maxSessions: 1,
    session: { sink: (room) => new TeeSink(new RoomMediaSink(room, logger), rendered) },
  });
  runnerUrl = await runner.app.listen({ host: '127.0.0.1', port: 0 });

  agent = new Room();
  await agent.connect(server.url, await server.token({ identity: 'agent', room: ROOM, kind: 'agent' }), { autoSubscribe: false, dynacast: false });
  // agents-js registers its playback RPC handlers once per PROCESS (static flags): reset them so
  // this Room's participant gets the methods even if another Room in this process asked first.
  voice.DataStreamAudioOutput._playbackFinishedRpcRegistered = false;
  voice.DataStreamAudioOutput._playbackStartedRpcRegistered = false;
  output = new voice.DataStreamAudioOutput({
    room: agent,
    destinationIdentity: AVATAR_IDENTITY,
    sampleRate: AGENT_RATE,
    waitRemoteTrack: TrackKind.KIND_VIDEO,
    waitPlaybackStart: true,
  });
  output.on('playbackStarted', () => started.push(now()));
  output.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => finished.push({ ...ev, at: now() }));
  viewer = (await connectClient(server, { identity: 'viewer', room: ROOM })).room;
});

afterAll(async () => {
  await video?.stop();
  await audio?.stop();
  await viewer?.disconnect();
  await agent?.disconnect();
  await runner?.close();
  await server?.close();
  await dispose();
  process.stdout.write(`avatar runner measurements:\n${Object.entries(measured).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
});

describe('the avatar runner configuration', () => {
  it('names the variable that is wrong, and never echoes the secret', () => {
    expect(() => loadRunnerConfig({})).toThrow(/^AVATAR_LAUNCH_SECRET is required/);
    let error: unknown;
    try {
      loadRunnerConfig({ AVATAR_LAUNCH_SECRET: 'too-short-123' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('AVATAR_LAUNCH_SECRET');
    expect((error as Error).message).not.toContain('too-short-123');
    expect(() => loadRunnerConfig({ AVATAR_LAUNCH_SECRET: SECRET, AVATAR_RUNNER_MAX_SESSIONS: 'many' })).toThrow(/^AVATAR_RUNNER_MAX_SESSIONS must be a whole number \(got "many"\)/);
    expect(() => loadRunnerConfig({ AVATAR_LAUNCH_SECRET: SECRET, LIVEKIT_URL: 'livekit:7880' })).toThrow(/^LIVEKIT_URL must be a ws:/);
    expect(loadRunnerConfig({ AVATAR_LAUNCH_SECRET: SECRET })).toMatchObject({ host: '127.0.0.1', port: 8089, maxSessions: 4, avatar: 'default', avatarsDir: 'avatars' });
  });
});

describe('the avatar runner (POST /launch → joins, renders, publishes)', () => {
  it('refuses a launch without the secret (401) or with a bad body (400, with the reason)', async () => {
    const token = await avatarToken();
    const missing = await launch({ url: server.url, token }, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await launch({ url: server.url, token }, 'not-the-secret-at-all-0000');
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).not.toContain(SECRET);

    const noToken = await launch({ url: server.url });
    expect(noToken.status).toBe(400);
    expect(((await noToken.json()) as { error: string }).error).toMatch(/token is required/);
    const badUrl = await launch({ url: 'livekit.example.com', token });
    expect(badUrl.status).toBe(400);
    expect(((await badUrl.json()) as { error: string }).error).toMatch(/url must be/);
    const notJwt = await launch({ url: server.url, token: 'hello' });
    expect(((await notJwt.json()) as { error: string }).error).toMatch(/JWT/);
    expect(server.room(ROOM)?.participants.map((p) => p.identity)).not.toContain(AVATAR_IDENTITY);
    expect(await (await fetch(`${runnerUrl}/health`)).json()).toMatchObject({ status: 'ok', sessions: 0, maxSessions: 1 });
  });

  it('joins as the avatar and publishes avatar_video and avatar_audio; a second launch past the limit gets 503', async () => {
    const videoTrack = nextEvent(viewer, RoomEvent.TrackSubscribed, 20_000, 'avatar_video', (t, pub, p) => p.identity === AVATAR_IDENTITY && pub.name === 'avatar_video');
    const audioTrack = nextEvent(viewer, RoomEvent.TrackSubscribed, 20_000, 'avatar_audio', (t, pub, p) => p.identity === AVATAR_IDENTITY && pub.name === 'avatar_audio');
    const t0 = performance.now();
    const res = await launch({ url: server.url, token: await avatarToken() });
    const launchMs = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ room: ROOM, identity: AVATAR_IDENTITY });
    const [v] = await videoTrack;
    const [a] = await audioTrack;
    video = recordVideo(v as RemoteTrack);
    audio = recordAudio(a as RemoteTrack);
    measured.launchMs = `${launchMs.toFixed(0)} (POST /launch until joined and published)`;

    const again = await launch({ url: server.url, token: await server.token({ identity: 'second-avatar', room: ROOM }) });
    expect(again.status).toBe(503);
    expect(((await again.json()) as { error: string }).error).toMatch(/limit of 1/);
    // A readiness probe sees it full (a load balancer sends launches elsewhere); it is still alive.
    expect((await fetch(`${runnerUrl}/ready`)).status).toBe(503);
    expect((await fetch(`${runnerUrl}/health`)).status).toBe(200);
    const avatar = agent.remoteParticipants.get(AVATAR_IDENTITY)!;
    expect(avatar.attributes[PUBLISH_ON_BEHALF_ATTRIBUTE]).toBe('agent');
  });

  it("plays the agent's speech: the viewer hears it and sees the mouth move with it; playback_started then playback_finished at the real position", async () => {
    await waitUntil(() => video.frames.length > 25, 20_000, 'a second of avatar video at the viewer');
    const speech = await synthesize('The quick brown fox jumps over the lazy dog, and then it runs away.', { sampleRate: AGENT_RATE });
    const seconds = speech.samples.length / AGENT_RATE;
    const restEnd = now();
    marks.restEnd = restEnd;
    await speak(speech.samples);
    const playout = await withTimeout(output.waitForPlayout(), 20_000, 'waitForPlayout');
    const playedAt = now();
    await sleep(800);

    expect(playout.interrupted).toBe(false);
    // The position the runner reports is what it played: the whole reply (resampled 16 → 24 kHz).
    expect(playout.playbackPosition).toBeGreaterThan(seconds - 0.05);
    expect(playout.playbackPosition).toBeLessThan(seconds + 0.05);
    expect(started).toHaveLength(1);
    // Played in real time: finished no sooner than the speech lasts after it started.
    expect(playedAt - started[0]!).toBeGreaterThan(seconds * 1000 - 100);

    const voiceAt = voiceSpan(audio.frames, restEnd);
    expect(voiceAt, 'the reply heard at the viewer').toBeDefined();
    expect((voiceAt!.end - voiceAt!.start) / 1000).toBeGreaterThan(seconds * 0.7);
    const rest = between(video.frames, restEnd - 1_500, restEnd);
    const speaking = between(video.frames, voiceAt!.start, voiceAt!.end);
    const restMoves = mouthMotion(rest, rest).map((m) => m.move);
    const moves = mouthMotion(speaking, rest).map((m) => m.move);
    expect(median(moves), 'mouth movement while speaking vs at rest').toBeGreaterThan(2.5 * Math.max(median(restMoves), 0.25));
    // Exactly, where it was rendered: the mouth opens with the loudness of the audio of its own frame.
    const inReply = rendered.frames.map((f, i) => ({ f, i })).filter(({ f }) => f.wallMs >= restEnd && f.wallMs <= playedAt).map(({ i }) => i);
    const openness = mouthOpenness(rendered);
    const envelope = speechEnvelope(rendered);
    const r = pearson(inReply.map((i) => openness[i]!), inReply.map((i) => envelope[i]!));
    expect(r, 'rendered mouth openness vs the loudness of its audio').toBeGreaterThan(0.5);
    // At the viewer, after VP8 and Opus through the test server (printed; the e2e suite bounds it).
    const lag = bestLag(audio.frames, mouthMotion(between(video.frames, voiceAt!.start - 500, voiceAt!.end + 500), rest), voiceAt!.start, voiceAt!.end);
    measured.speech = `${seconds.toFixed(2)} s reply; reported position ${playout.playbackPosition.toFixed(3)} s; heard ${((voiceAt!.end - voiceAt!.start) / 1000).toFixed(2)} s at the viewer`;
    measured.firstAudioAtViewerMs = `${(voiceAt!.start - started[0]!).toFixed(0)} after lk.playback_started reached the agent`;
    measured.finishedAfterHeardMs = `${(playedAt - voiceAt!.end).toFixed(0)} (lk.playback_finished at the agent − last loud audio at the viewer)`;
    const restNoise = Math.max(percentile(restMoves, 90), 0.5);
    const mouthOnset = mouthMotion(between(video.frames, restEnd, voiceAt!.end), rest).find((m) => m.move > 3 * restNoise)?.at;
    measured.avOnsetAtViewerMs = `${mouthOnset ? (mouthOnset - voiceAt!.start).toFixed(0) : '?'} (mouth onset − voice onset at the viewer; negative: mouth first; threshold-sensitive, printed only)`;
    measured.mouth = `rendered: r=${r.toFixed(2)} openness vs loudness; viewer: median move ${median(moves).toFixed(2)} vs rest ${median(restMoves).toFixed(2)} luma levels, best lag ${lag.lagMs} ms (r=${lag.r.toFixed(2)})`;
  });

  it('clearBuffer interrupts: playback_finished {interrupted} quickly at about what was heard, the voice stops and the mouth closes', async () => {
    const speech = await synthesize('This is a much longer answer that the user will interrupt in the middle, long before the end of it, so that it never finishes playing.', { sampleRate: AGENT_RATE });
    const seconds = speech.samples.length / AGENT_RATE;
    const startedBefore = started.length;
    await speak(speech.samples);
    await waitUntil(() => started.length > startedBefore, 10_000, 'lk.playback_started');
    await sleep(1_500);
    const clearedAt = now();
    marks.clearedAt = clearedAt;
    output.clearBuffer();
    const playout = await withTimeout(output.waitForPlayout(), 5_000, 'waitForPlayout after clearBuffer');
    const tookMs = now() - clearedAt;
    await sleep(1_500);

    expect(playout.interrupted).toBe(true);
    expect(tookMs).toBeLessThan(1_500);
    // What had been played when the clear came (less what the room's audio queue still held).
    const playedS = (clearedAt - started.at(-1)!) / 1000;
    // Heard = played less what the room's audio queue still held; generous for a loaded machine.
    expect(playout.playbackPosition, `position vs ${playedS.toFixed(2)} s since playback started`).toBeGreaterThan(playedS - 0.8);
    expect(playout.playbackPosition, `position vs ${playedS.toFixed(2)} s since playback started`).toBeLessThan(playedS + 0.3);
    expect(playout.playbackPosition).toBeLessThan(seconds - 2);

    // Quiet at the viewer soon after (the transport adds its own delay).
    const loudAfter = audio.frames.filter((f) => f.at > clearedAt + 800 && f.rms > 1_000).length;
    expect(loudAfter, 'loud audio frames at the viewer 0.8 s after the clear').toBeLessThan(3);
    // The mouth closes: rendered frames after the clear reached the runner are no more open than at rest.
    const openness = mouthOpenness(rendered);
    const opennessBetween = (from: number, to: number) => rendered.frames.flatMap((f, i) => (f.wallMs >= from && f.wallMs < to ? [openness[i]!] : []));
    const restMax = Math.max(...opennessBetween(marks.restEnd! - 1_500, marks.restEnd!));
    const before = opennessBetween(clearedAt - 1_000, clearedAt);
    const after = opennessBetween(clearedAt + 300, clearedAt + 1_500);
    expect(Math.max(...before), 'the mouth was open while speaking').toBeGreaterThan(restMax + 5);
    expect(Math.max(...after), 'the mouth after the clear').toBeLessThanOrEqual(restMax + 2);
    const closedAt = rendered.frames.find((f, i) => f.wallMs > clearedAt && openness[i]! <= restMax + 2 && !f.speech)?.wallMs;
    measured.clear = `lk.clear_buffer → interrupted playback_finished at the agent in ${tookMs.toFixed(0)} ms; position ${playout.playbackPosition.toFixed(2)} s, ${playedS.toFixed(2)} s after playback started`;
    measured.mouthClosedMs = `${closedAt ? (closedAt - clearedAt).toFixed(0) : '?'} (clearBuffer at the agent → first rendered frame with the mouth at rest)`;
  });

  it('leaves when the agent leaves', async () => {
    const gone = nextEvent(viewer, RoomEvent.ParticipantDisconnected, 15_000, 'the avatar to leave', (p) => p.identity === AVATAR_IDENTITY);
    const t0 = performance.now();
    await agent.disconnect();
    await gone;
    measured.leaveMs = `${(performance.now() - t0).toFixed(0)} (agent left → avatar gone at the viewer)`;
    await waitUntil(() => runner.sessions.size === 0, 5_000, 'the runner to drop the session');
    expect(await (await fetch(`${runnerUrl}/health`)).json()).toMatchObject({ sessions: 0 });
  });
});

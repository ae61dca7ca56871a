/**
 * The worker's receiver of LiveKit's pre-connect audio buffer, in a room on the LiveKit-protocol
 * test server: a user (rtc-node) sends the buffer the way livekit-client does, the agent side is a
 * real rtc-node Room with the receiver registered. What the session would play first is asserted
 * by its duration and energy; every refusal is a log line and yields nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioSource, LocalAudioTrack, Room, TrackPublishOptions, TrackSource } from '@livekit/rtc-node';
import { pino } from 'pino';
import { rms } from '../src/audio/pcm.js';
import { PreConnectAudioReceiver } from '../src/pipeline/pre-connect/receiver.js';
import { speechWithSilence } from './fakes/speech.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, waitUntil } from './livekit-server/testing.js';
import { sendPreConnectBuffer, webmOpus } from './support/pre-connect-sender.js';

let server: TestLiveKitServer;
const rooms: Room[] = [];
const sources: AudioSource[] = [];
let n = 0;

beforeAll(async () => {
  server = await startTestLiveKitServer();
});
afterAll(async () => {
  await Promise.all(rooms.map((r) => r.disconnect().catch(() => undefined)));
  for (const s of sources) await s.close();
  await server?.close();
}, 180_000);

/** Joining, publishing, and a buffer's first bytes reaching the agent take seconds on a busy 2-core machine. */
const SLOW_MS = 60_000;

/**
 * An agent room with the receiver, and users who have published a microphone. A microphone
 * announces its buffer (TF_PRECONNECT_BUFFER) as livekit-client's does unless `announce: false`;
 * the receiver waits `announcedWaitMs` (here long, the machine may be busy) for an announced buffer.
 */
async function setUp(limits: ConstructorParameters<typeof PreConnectAudioReceiver>[1]['limits'] = {}) {
  const room = `pre-connect-${++n}`;
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line).msg as string) });
  const agent = (await connectClient(server, { identity: `agent-${n}`, room, kind: 'agent' }, { timeoutMs: SLOW_MS })).room;
  rooms.push(agent);
  const receiver = new PreConnectAudioReceiver(agent, { logger, limits: { announcedWaitMs: SLOW_MS, ...limits } });
  receiver.register();
  const user = async (identity: string, { announce = true } = {}) => {
    const r = (await connectClient(server, { identity, room }, { timeoutMs: SLOW_MS })).room;
    rooms.push(r);
    const source = new AudioSource(48_000, 1);
    sources.push(source);
    const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE, ...(announce ? { preconnectBuffer: true } : {}) });
    const pub = await r.localParticipant!.publishTrack(LocalAudioTrack.createAudioTrack('microphone', source), options);
    await waitUntil(() => agent.remoteParticipants.get(identity)?.trackPublications.has(pub.sid!) ?? false, SLOW_MS, `${identity}'s microphone at the agent`);
    return { room: r, trackId: pub.sid! };
  };
  return { agent, agentIdentity: `agent-${n}`, receiver, logs, user };
}

describe('pre-connect audio buffer', { timeout: 3 * SLOW_MS }, () => {
  it("decodes the browser's webm/opus buffer into the audio the user said, to be played first", async () => {
    const { receiver, agentIdentity, user } = await setUp();
    const ada = await user('ada');
    const question = await speechWithSilence('What is the tallest mountain on Earth?', { sampleRate: 48_000, leadMs: 200, trailMs: 600 });
    const sent = sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, await webmOpus(question.samples, 48_000));
    const frames = await receiver.framesFor('ada', ada.trackId);
    await sent;
    const pcm = Int16Array.from(frames.flatMap((f) => [...f.data]));
    const ms = (pcm.length / 48_000) * 1000;
    const sentMs = (question.samples.length / 48_000) * 1000;
    // Opus adds at most a frame of padding; the speech itself is there, at its energy.
    expect(Math.abs(ms - sentMs)).toBeLessThan(80);
    expect(rms(pcm)).toBeGreaterThan(rms(question.samples) * 0.5);
    // Handed over once: a second microphone stream of the same track does not replay it.
    await expect(receiver.framesFor('ada', ada.trackId)).resolves.toEqual([]);
  });

  it('waits longer for a buffer the microphone announced (TF_PRECONNECT_BUFFER) than for one it did not', async () => {
    // No grace at all for an unannounced buffer: the announcement alone makes the session wait.
    const { receiver, agentIdentity, user, logs } = await setUp({ headerGraceMs: 0 });
    const ada = await user('ada');
    const bob = await user('bob', { announce: false });
    await expect(receiver.framesFor('bob', bob.trackId)).resolves.toEqual([]);
    // The microphone reached the session before the client began sending (it waits for the agent to be active).
    const frames = receiver.framesFor('ada', ada.trackId);
    await sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, { bytes: new Uint8Array(2 * 4800), sampleRate: 48_000, channels: 1 });
    expect((await frames).reduce((n, f) => n + f.samplesPerChannel, 0)).toBe(4800);
    expect(logs.some((l) => l.startsWith('playing 0.1 s of audio ada said before the agent joined'))).toBe(true);
  });

  it('refuses, with a log line, a buffer that begins after the microphone reached the session', async () => {
    const { receiver, agentIdentity, user, logs } = await setUp({ headerGraceMs: 0 });
    const ada = await user('ada', { announce: false });
    await expect(receiver.framesFor('ada', ada.trackId)).resolves.toEqual([]);
    await sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, { bytes: new Uint8Array(9600), sampleRate: 48_000, channels: 1 });
    await waitUntil(() => logs.some((l) => /^pre-connect audio from ada ignored: it began \d+\.\d s after the microphone reached the session/.test(l)), SLOW_MS, 'the late buffer refused');
    expect(receiver.waiting).toEqual([]);
  });

  it('takes raw PCM16 when the mime type is not opus, downmixing stereo', async () => {
    const { receiver, agentIdentity, user } = await setUp();
    const ada = await user('ada');
    const stereo = new Int16Array(2 * 16_000).map((_, i) => (i % 2 ? 8000 : 4000));
    const sent = sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, { bytes: new Uint8Array(stereo.buffer), sampleRate: 16_000, channels: 2 });
    const frames = await receiver.framesFor('ada', ada.trackId);
    await sent;
    expect(frames.reduce((s, f) => s + f.samplesPerChannel, 0)).toBe(16_000);
    expect(frames.every((f) => f.channels === 1 && f.sampleRate === 16_000)).toBe(true);
    expect(frames[0]!.data[0]).toBe(6000);
  });

  it('refuses an oversized buffer, with a log line, and hands over nothing', async () => {
    // The byte bound, not the read deadline a busy machine may reach first.
    const { receiver, agentIdentity, user, logs } = await setUp({ maxBytes: 64 * 1024, readTimeoutMs: SLOW_MS });
    const ada = await user('ada');
    const big = new Uint8Array(200 * 1024);
    const sent = sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, { bytes: big, sampleRate: 48_000, channels: 1 });
    await expect(receiver.framesFor('ada', ada.trackId)).resolves.toEqual([]);
    await sent;
    await waitUntil(() => logs.some((l) => /pre-connect audio from ada ignored: over the 65536-byte limit/.test(l)), SLOW_MS, 'the refusal in the log');
  });

  it("ignores another participant's buffer, and one naming a track its sender does not publish", async () => {
    const { receiver, agentIdentity, user, logs } = await setUp();
    // Ada sends nothing: her microphone does not announce a buffer (the receiver waits headerGraceMs).
    const ada = await user('ada', { announce: false });
    const mallory = await user('mallory');
    const pcm = { bytes: new Uint8Array(9600), sampleRate: 48_000, channels: 1 };
    // Mallory claims Ada's track: refused at once.
    await sendPreConnectBuffer(mallory.room, agentIdentity, ada.trackId, pcm);
    await waitUntil(() => logs.some((l) => l.includes(`pre-connect audio from mallory ignored: it names track ${ada.trackId}, which mallory does not publish`)), SLOW_MS, 'the foreign-track refusal');
    // Mallory's own buffer, while the session listens to Ada: dropped when Ada's microphone is opened.
    await sendPreConnectBuffer(mallory.room, agentIdentity, mallory.trackId, pcm);
    await waitUntil(() => receiver.waiting.includes('mallory'), SLOW_MS, "mallory's buffer at the agent");
    await expect(receiver.framesFor('ada', ada.trackId)).resolves.toEqual([]);
    expect(logs).toContainEqual('pre-connect audio from mallory ignored: the agent listens to ada; the call goes on');
  });

  it('drops a stale buffer (finished longer ago than maxAgeMs) and malformed attributes', async () => {
    const { receiver, agentIdentity, user, logs } = await setUp({ maxAgeMs: 200 });
    const ada = await user('ada');
    await sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, { bytes: new Uint8Array(9600), sampleRate: 48_000, channels: 1 });
    await waitUntil(() => logs.includes('pre-connect audio from ada received: 0.1 s'), SLOW_MS, "ada's buffer read at the agent");
    const closedAt = Date.now();
    await waitUntil(() => Date.now() - closedAt > 400, 2_000, 'the buffer to grow stale');
    await expect(receiver.framesFor('ada', ada.trackId)).resolves.toEqual([]);
    expect(logs.some((l) => /^pre-connect audio from ada ignored: finished \d+\.\d s before the microphone reached the session \(limit 0\.2 s\)/.test(l))).toBe(true);

    await sendPreConnectBuffer(ada.room, agentIdentity, ada.trackId, { bytes: new Uint8Array(960), sampleRate: 48_000, channels: 1 }, { sampleRate: 'fast' });
    await waitUntil(() => logs.some((l) => l.includes('pre-connect audio from ada ignored: bad stream attributes (sampleRate: sampleRate must be a number)')), SLOW_MS, 'the attribute refusal');
  });
});

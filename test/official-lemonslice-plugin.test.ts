/**
 * LiveKit's official LemonSlice plugin (`@livekit/agents-plugin-lemonslice` 1.9.0, the one official
 * avatar plugin that installs beside `@livekit/agents` 1.9.0) against our LemonSlice fake, in a
 * room on the LiveKit-protocol test server: the plugin's AvatarSession starts the session with our
 * fake's API, the fake's avatar joins with the token the plugin minted (the SDK's 6 h lifetime,
 * only roomJoin granted), and a turn of a real AgentSession in that room completes with the avatar
 * playing it. If the official client fails against a fake, the fake is wrong.
 *
 * Nothing from src/avatar/remote is imported here: its RemoteAudioOutput turns off agents'
 * process-wide registration of the playback RPCs, which the plugin's DataStreamAudioOutput needs.
 */
import { ReadableStream } from 'node:stream/web';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AvatarSession } from '@livekit/agents-plugin-lemonslice';
import { AudioFrame, dispose, TrackKind } from '@livekit/rtc-node';
import { startFakeAvatar, type FakeAvatarParticipant } from './fakes/avatar-participant.js';
import { startFakeLemonSlice, type FakeLemonSlice } from './fakes/providers/index.js';
import { withTimeout } from './fakes/wait.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, waitUntil } from './livekit-server/testing.js';

const KEY = 'lemonslice-key-0123456789';
let server: TestLiveKitServer;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'warn' });
  server = await startTestLiveKitServer();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await server?.close();
  await dispose();
});

/** `seconds` of a 300 Hz tone at 24 kHz, as a TTS would hand the session its reply. */
function toneStream(seconds: number): ReadableStream<AudioFrame> {
  const rate = 24_000;
  const n = rate / 50;
  let k = 0;
  let sent = 0;
  return new ReadableStream<AudioFrame>({
    pull(controller) {
      if (sent >= seconds * 50) return controller.close();
      const data = new Int16Array(n);
      for (let i = 0; i < n; i++, k++) data[i] = Math.round(9000 * Math.sin((2 * Math.PI * 300 * k) / rate));
      controller.enqueue(new AudioFrame(data, rate, 1, n));
      sent++;
    },
  });
}

describe('the official LemonSlice plugin against our LemonSlice fake', () => {
  it("starts its avatar in the room, and the agent's turn completes with the avatar playing it", async () => {
    const roomName = 'official-lemonslice';
    const agent = await connectClient(server, { identity: 'agent-ls', room: roomName, kind: 'agent' });
    cleanups.push(() => agent.room.disconnect());
    const user = await connectClient(server, { identity: 'user-ls', room: roomName });
    cleanups.push(() => user.room.disconnect());

    const avatars: FakeAvatarParticipant[] = [];
    const lemon: FakeLemonSlice = await startFakeLemonSlice({
      apiKey: KEY,
      livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret },
      joinAvatar: async ({ url, token }) => {
        const a = await startFakeAvatar({ url, token, playbackStarted: true });
        avatars.push(a);
        cleanups.push(() => a.leave());
        return a;
      },
    });
    cleanups.push(() => lemon.close());

    const session = new voice.AgentSession({});
    cleanups.push(() => session.close());
    const avatar = new AvatarSession({ agentId: 'ag-1', apiKey: KEY, apiUrl: `${lemon.baseUrl}/api/liveai/sessions` });
    cleanups.push(() => avatar.aclose());
    const sessionId = await avatar.start(session, agent.room, { livekitUrl: server.url, livekitApiKey: server.apiKey, livekitApiSecret: server.apiSecret });

    // The fake took the plugin's request as the real API does: nothing refused.
    expect(lemon.problems).toEqual([]);
    expect(lemon.started).toEqual([sessionId]);
    expect(lemon.requests[0]!.body).toMatchObject({ transport_type: 'livekit', agent_id: 'ag-1', properties: { livekit_url: server.url } });
    // The plugin's token: the SDK's default lifetime (which our fakes used to refuse) and roomJoin only.
    expect(lemon.tokens[0]).toMatchObject({ identity: 'lemonslice-avatar-agent', kind: 'agent', attributes: { 'lk.publish_on_behalf': 'agent-ls' } });
    expect(lemon.tokens[0]!.ttlSeconds).toBeGreaterThan(3600);

    await session.start({ agent: new voice.Agent({ instructions: 'You are a test agent.' }), room: agent.room });
    // The user sees the avatar's video, published on the agent's behalf.
    await waitUntil(
      () => [...(user.room.remoteParticipants.get('lemonslice-avatar-agent')?.trackPublications.values() ?? [])].some((t) => t.kind === TrackKind.KIND_VIDEO),
      15_000,
      "the user to see the avatar's video",
    );
    expect(user.room.remoteParticipants.get('lemonslice-avatar-agent')!.attributes['lk.publish_on_behalf']).toBe('agent-ls');

    const started = Date.now();
    const handle = session.say('Hello, I am your avatar.', { audio: toneStream(1.2), allowInterruptions: false });
    await withTimeout(handle.waitForPlayout(), 20_000, "the turn to complete with the avatar's playback");
    const turnMs = Date.now() - started;

    // The avatar heard the whole reply at LemonSlice's 16 kHz, said when it started and when it finished.
    const fakeAvatar = avatars[0]!;
    const [segment] = await fakeAvatar.waitForSegments(1, 5000);
    expect(segment!.sampleRate).toBe(16_000);
    expect(segment!.pcm.length / segment!.channels / 16_000).toBeCloseTo(1.2, 1);
    await fakeAvatar.waitForFinished(1, 5000);
    const sent = fakeAvatar.sent.map((r) => `${r.method}:${r.ok ? 'ok' : 'refused'}`);
    expect(sent).toEqual(['lk.playback_started:ok', 'lk.playback_finished:ok']);
    // It was played, not skipped: the turn took the audio's length.
    expect(turnMs).toBeGreaterThan(1000);
    expect(handle.interrupted).toBe(false);
    process.stdout.write(`official LemonSlice plugin: 1.2 s turn completed with the avatar in ${turnMs} ms\n`);
  });
});

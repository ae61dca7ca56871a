/**
 * Both halves of the self-hosted avatar together, nothing faked but the room's server: the
 * worker's `selfhosted` adapter launches OUR avatar runner over HTTP (shared secret), the runner
 * joins the room on the agent's behalf, renders the builtin face from the speech it receives over
 * DataStream, and its playback reports drive the agent's turn. What `npm run avatar-runner` on a
 * GPU host and `AVATAR=<selfhosted profile>` on the worker do in production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose, TrackSource, type Room } from '@livekit/rtc-node';
import type { AvatarHandle } from '../src/avatar/contract.js';
import { remoteAdapterFor, remoteProfileSchema } from '../src/avatar/remote/index.js';
import { createRunnerServer, type AvatarRunnerServer } from '../src/avatar/runner/server.js';
import { builtinProfileSchema } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, waitUntil, withTimeout } from './livekit-server/testing.js';

const SECRET = 'selfhosted-secret-0123456789';
const logger = createLogger({ level: 'error', secrets: [SECRET] });
let server: TestLiveKitServer;
let runner: AvatarRunnerServer;
let runnerUrl: string;
let agent: Room;
let user: Room;
let handle: AvatarHandle | undefined;
const session = () => new voice.AgentSession({});

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
  runner = await createRunnerServer({ launchSecret: SECRET, profile: { ...builtinProfileSchema.parse({ adapter: 'builtin' }), name: 'default' }, logger, maxSessions: 2 });
  runnerUrl = await runner.app.listen({ host: '127.0.0.1', port: 0 });
  agent = (await connectClient(server, { identity: 'agent-sh', room: 'selfhosted-call', kind: 'agent' })).room;
  user = (await connectClient(server, { identity: 'user-sh', room: 'selfhosted-call' })).room;
});

afterAll(async () => {
  await handle?.close();
  await user?.disconnect();
  await agent?.disconnect();
  await runner?.close();
  await server?.close();
  await dispose();
});

describe('selfhosted adapter → our avatar runner', () => {
  it('launches the runner, whose avatar shows to the user as the agent and plays the agent\'s speech to the end', async () => {
    const s = session();
    const profile = { ...remoteProfileSchema.parse({ adapter: 'selfhosted', apiUrl: runnerUrl, waitPlaybackStart: true, joinTimeoutMs: 15_000 }), name: 'gpu-host' };
    handle = await remoteAdapterFor(profile).attach({
      session: s,
      room: agent,
      logger,
      keys: { launchSecret: SECRET },
      livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret },
    });
    // The user sees the runner's face, published on the agent's behalf.
    await waitUntil(
      () => [...(user.remoteParticipants.get('selfhosted-avatar-agent')?.trackPublications.values() ?? [])].some((t) => t.source === TrackSource.SOURCE_CAMERA),
      10_000,
      "the runner's avatar_video at the user",
    );
    expect(user.remoteParticipants.get('selfhosted-avatar-agent')?.attributes['lk.publish_on_behalf']).toBe('agent-sh');

    const output = s.output.audio!;
    const timings: number[] = [];
    handle.timings?.onSegmentTimings((t) => timings.push(t.firstSpeakingFrameAt - t.firstAudioAt));
    const rate = output.sampleRate ?? 24_000;
    const n = rate / 50;
    for (let k = 0, t = 0; t < 1500; t += 20) {
      const data = new Int16Array(n);
      for (let i = 0; i < n; i++, k++) data[i] = Math.round(9000 * Math.sin((2 * Math.PI * 220 * k) / rate));
      await output.captureFrame(new AudioFrame(data, rate, 1, n));
    }
    output.flush();
    const finished = await withTimeout(output.waitForPlayout(), 15_000, 'the runner to report the reply played');
    expect(finished.interrupted).toBe(false);
    expect(finished.playbackPosition).toBeGreaterThan(1.3);
    expect(finished.playbackPosition).toBeLessThan(1.7);
    // Playback start came from the runner's lk.playback_started, after real rendering began.
    expect(timings).toHaveLength(1);
    expect(timings[0]).toBeGreaterThanOrEqual(0);

    // Closing the avatar removes the runner's participant from the room.
    await handle.close();
    handle = undefined;
    await waitUntil(() => !user.remoteParticipants.has('selfhosted-avatar-agent'), 10_000, 'the runner to leave');
  });

  it('a wrong shared secret fails the attach with a clear reason (so the registry falls back)', async () => {
    const profile = { ...remoteProfileSchema.parse({ adapter: 'selfhosted', apiUrl: runnerUrl, joinTimeoutMs: 5_000 }), name: 'gpu-host' };
    const attempt = remoteAdapterFor(profile).attach({
      session: session(),
      room: agent,
      logger,
      keys: { launchSecret: 'not-the-secret-0123456789' },
      livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret },
    });
    await expect(attempt).rejects.toThrow(/401.*AVATAR_LAUNCH_SECRET|AVATAR_LAUNCH_SECRET.*401/s);
    await expect(attempt).rejects.not.toThrow(/not-the-secret/);
  });
});

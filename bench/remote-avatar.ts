/**
 * Bench of the remote avatar family on the LiveKit-protocol test server (loopback, so it measures
 * our code and the DataStream path, not a provider's cloud):
 * - avatar join: attach start → the (fake) provider's avatar is in the room publishing video;
 * - speech latency: the agent's first TTS frame handed to the output (captureFrame) → the avatar
 *   participant has the stream open (its first bytes) and → its first audio frame is decoded;
 * - fallback: a provider that refuses the session (HTTP 401) → attach fails; failure detected →
 *   the built-in avatar's first frame.
 * Run: npx tsx bench/remote-avatar.ts [runs]
 */
import { pathToFileURL } from 'node:url';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose } from '@livekit/rtc-node';
import { builtinAdapter } from '../src/avatar/builtin.js';
import type { AvatarContext } from '../src/avatar/contract.js';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { remoteAdapterFor, remoteProfileSchema } from '../src/avatar/remote/index.js';
import { builtinProfileSchema } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';
import { startFakeAvatar, type FakeAvatarParticipant } from '../test/fakes/avatar-participant.js';
import { startFakeSelfhosted, startFakeTavus } from '../test/fakes/providers/index.js';
import { waitFor } from '../test/fakes/wait.js';
import { startTestLiveKitServer } from '../test/livekit-server/index.js';
import { connectClient } from '../test/livekit-server/testing.js';

const KEY = 'bench-key-0123456789';
const RATE = 24_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : NaN;
}
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`;

function frame(k: number): AudioFrame {
  const n = RATE / 50;
  const data = new Int16Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.round(9000 * Math.sin((2 * Math.PI * 300 * (k * n + i)) / RATE));
  return new AudioFrame(data, RATE, 1, n);
}

export async function benchRemoteAvatar(runs = 10): Promise<void> {
  initializeLogger({ pretty: false, level: 'error' });
  const logger = createLogger({ level: 'error' });
  const server = await startTestLiveKitServer();
  const agent = await connectClient(server, { identity: 'bench-agent', room: 'bench-remote', kind: 'agent' });
  const avatars: FakeAvatarParticipant[] = [];
  const livekitOpts = { apiKey: server.apiKey, apiSecret: server.apiSecret };
  const runner = await startFakeSelfhosted({
    apiKey: KEY,
    livekit: livekitOpts,
    joinAvatar: async ({ url, token }) => {
      const a = await startFakeAvatar({ url, token });
      avatars.push(a);
      return a;
    },
  });
  const tavus = await startFakeTavus({ apiKey: KEY, livekit: livekitOpts, knobs: { status: 401 } });
  const session = new voice.AgentSession({});
  const ctx: AvatarContext = {
    session,
    room: agent.room,
    logger,
    keys: { launchSecret: KEY, tavus: KEY },
    livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret },
  };
  try {
    const profile = { ...remoteProfileSchema.parse({ adapter: 'selfhosted', apiUrl: runner.baseUrl }), name: 'bench' };
    const t0 = performance.now();
    const handle = await remoteAdapterFor(profile).attach(ctx);
    const joinMs = performance.now() - t0;
    const out = session.output.audio!;
    const avatar = avatars[0]!;

    const toOpen: number[] = [];
    const toAudio: number[] = [];
    for (let r = 0; r < runs + 1; r++) {
      const before = avatar.segments.length;
      const sentAt = Date.now();
      for (let k = 0; k < 25; k++) await out.captureFrame(frame(k)); // 500 ms of speech, as fast as TTS hands it over
      out.flush();
      await waitFor(() => avatar.segments.length > before && avatar.segments[before]!.firstAudioAt !== undefined, 5000, 'the avatar to receive audio');
      await out.waitForPlayout();
      if (r === 0) continue; // warm-up
      const seg = avatar.segments[before]!;
      toOpen.push(seg.openedAt - sentAt);
      toAudio.push(seg.firstAudioAt! - sentAt);
    }
    await handle.close();

    // Fallback: the provider refuses → the built-in avatar shows its first frame.
    const detect: number[] = [];
    const toFirstFrame: number[] = [];
    for (let r = 0; r < Math.min(runs, 5); r++) {
      const failing = { ...remoteProfileSchema.parse({ adapter: 'tavus', palId: 'p-echo-1', apiUrl: tavus.baseUrl }), name: 'bench-tavus' };
      const a0 = performance.now();
      await remoteAdapterFor(failing)
        .attach(ctx)
        .then(() => {
          throw new Error('expected the provider to refuse');
        })
        .catch((err: unknown) => {
          if ((err as Error).message === 'expected the provider to refuse') throw err;
        });
      const detected = performance.now();
      const detectedWall = Date.now();
      detect.push(detected - a0);
      const sink = new MemoryMediaSink();
      const builtin = await builtinAdapter({ ...builtinProfileSchema.parse({ adapter: 'builtin' }), name: 'builtin' }).attach({ ...ctx, sink });
      await waitFor(() => sink.frames.length > 0, 5000, 'the built-in avatar\'s first frame');
      toFirstFrame.push(sink.frames[0]!.wallMs - detectedWall);
      await builtin.close();
    }

    console.log('\n# remote avatar (DataStream over the test server, loopback)');
    console.log(`avatar join (attach → video published): ${joinMs.toFixed(0)} ms`);
    console.log(`first TTS frame → avatar has the stream open: ${fmt(toOpen)}`);
    console.log(`first TTS frame → avatar decodes its first audio frame: ${fmt(toAudio)}`);
    console.log(`fallback, provider failure detected (HTTP 401 round trip): ${fmt(detect)}`);
    console.log(`fallback, failure detected → built-in avatar's first frame: ${fmt(toFirstFrame)}`);
  } finally {
    for (const a of avatars) await a.leave().catch(() => undefined);
    await runner.close();
    await tavus.close();
    await agent.room.disconnect();
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchRemoteAvatar(Number(process.argv[2] ?? 10))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dispose());
}

/**
 * Bench of the remote avatar family on the LiveKit-protocol test server (loopback, so it measures
 * our code and the DataStream path, not a provider's cloud), for every provider's fake:
 * - avatar join: attach start → the (fake) provider's avatar is in the room publishing video;
 * - speech latency: the agent's first TTS frame handed to the output (captureFrame) → the avatar
 *   participant has the stream open (its first bytes) and → its first audio frame is decoded;
 * - fallback: the provider refuses the session (HTTP 401) → attach fails; failure detected →
 *   the built-in avatar's first frame.
 * LiveAvatar takes speech over its own websocket, not DataStream: its join and fallback are
 * measured, its speech latency is not (the fake avatar does not hear it).
 * Run: npx tsx bench/remote-avatar.ts [runs] [adapter…]
 */
import { pathToFileURL } from 'node:url';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose } from '@livekit/rtc-node';
import { builtinAdapter } from '../src/avatar/builtin.js';
import type { AvatarContext } from '../src/avatar/contract.js';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { remoteAdapterFor, remoteProfileSchema } from '../src/avatar/remote/index.js';
import type { AvatarKeys } from '../src/config/config.js';
import { builtinProfileSchema } from '../src/config/avatar-profile.js';
import { createLogger } from '../src/logging.js';
import { startFakeAvatar, type FakeAvatarParticipant } from '../test/fakes/avatar-participant.js';
import {
  DATASTREAM_PROVIDERS,
  INFERENCE_PROVIDER,
  keysFor,
  startFakeAnam,
  startFakeBey,
  startFakeLemonSlice,
  startFakeLiveAvatar,
  startFakeSelfhosted,
  startFakeTavus,
  type ProviderFake,
  type ProviderFakeOptions,
} from '../test/fakes/providers/index.js';
import { waitFor } from '../test/fakes/wait.js';
import { startTestLiveKitServer, type TestLiveKitServer } from '../test/livekit-server/index.js';
import { connectClient } from '../test/livekit-server/testing.js';

const KEY = 'bench-key-0123456789';
const KEYS: AvatarKeys = { launchSecret: KEY, tavus: KEY, liveavatar: KEY, bey: KEY, anam: KEY, lemonslice: KEY, ...keysFor(KEY) };

interface BenchCase {
  adapter: string;
  start(opts: ProviderFakeOptions): Promise<ProviderFake>;
  profile(apiUrl: string): Record<string, unknown>;
  /** Its avatar hears the speech over DataStream (LiveAvatar's goes over its websocket). */
  dataStream: boolean;
  /** Its avatar reports playback start (LemonSlice's does, and the output waits for it). */
  playbackStarted?: boolean;
  /** Who hears the speech where that is not the avatar (AvatarTalk's listener). */
  speechIdentity?: string;
}

const CASES: BenchCase[] = [
  { adapter: 'selfhosted', start: (o) => startFakeSelfhosted(o), profile: (apiUrl) => ({ adapter: 'selfhosted', apiUrl }), dataStream: true },
  { adapter: 'tavus', start: (o) => startFakeTavus(o), profile: (apiUrl) => ({ adapter: 'tavus', palId: 'p-echo-1', apiUrl }), dataStream: true },
  { adapter: 'bey', start: (o) => startFakeBey(o), profile: (apiUrl) => ({ adapter: 'bey', apiUrl }), dataStream: true },
  { adapter: 'anam', start: (o) => startFakeAnam(o), profile: (apiUrl) => ({ adapter: 'anam', avatarId: 'an-1', apiUrl }), dataStream: true },
  { adapter: 'lemonslice', start: (o) => startFakeLemonSlice(o), profile: (apiUrl) => ({ adapter: 'lemonslice', agentId: 'ag-1', apiUrl }), dataStream: true, playbackStarted: true },
  { adapter: 'liveavatar', start: (o) => startFakeLiveAvatar({ ...o, avatars: ['la-1'] }), profile: (apiUrl) => ({ adapter: 'liveavatar', avatarId: 'la-1', apiUrl }), dataStream: false },
  ...[...DATASTREAM_PROVIDERS, INFERENCE_PROVIDER].map((c) => ({
    adapter: c.adapter,
    start: c.start,
    profile: c.profile,
    dataStream: true,
    playbackStarted: c.adapter === 'inference',
    ...(c.speechIdentity ? { speechIdentity: c.speechIdentity } : {}),
  })),
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : NaN;
}
const fmt = (xs: number[]) => (xs.length ? `${median(xs).toFixed(1)} ms (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})` : '—');

function frame(k: number, rate: number): AudioFrame {
  const n = rate / 50;
  const data = new Int16Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.round(9000 * Math.sin((2 * Math.PI * 300 * (k * n + i)) / rate));
  return new AudioFrame(data, rate, 1, n);
}

interface Row {
  adapter: string;
  joinMs: number;
  toOpen: number[];
  toAudio: number[];
  detect: number[];
  toFirstFrame: number[];
}

async function benchOne(server: TestLiveKitServer, c: BenchCase, runs: number, logger: AvatarContext['logger']): Promise<Row> {
  // A room of its own per provider, as a call has.
  const agent = (await connectClient(server, { identity: `bench-agent-${c.adapter}`, room: `bench-remote-${c.adapter}`, kind: 'agent' })).room;
  const avatars: FakeAvatarParticipant[] = [];
  const opts = { apiKey: KEY, livekit: { apiKey: server.apiKey, apiSecret: server.apiSecret } };
  const provider = await c.start({
    ...opts,
    joinAvatar: async ({ url, token, role }) => {
      const a = await startFakeAvatar({ url, token, playbackStarted: c.playbackStarted ?? false, neverPublishVideo: role === 'listener' });
      avatars.push(a);
      return a;
    },
  });
  const refusing = await c.start({ ...opts, knobs: { status: 401 } });
  const session = new voice.AgentSession({});
  const ctx: AvatarContext = { session, room: agent, logger, keys: KEYS, livekit: { url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret } };
  const row: Row = { adapter: c.adapter, joinMs: NaN, toOpen: [], toAudio: [], detect: [], toFirstFrame: [] };
  try {
    const profile = { ...remoteProfileSchema.parse(c.profile(provider.baseUrl)), name: `bench-${c.adapter}` };
    const t0 = performance.now();
    const handle = await remoteAdapterFor(profile).attach(ctx);
    row.joinMs = performance.now() - t0;
    const out = session.output.audio!;
    // What hears the speech: the avatar, or its listener (AvatarTalk).
    const avatar = c.speechIdentity ? avatars.find((a) => a.identity === c.speechIdentity)! : avatars[0]!;
    const rate = profile.sampleRate;
    for (let r = 0; c.dataStream && r < runs + 1; r++) {
      const before = avatar.segments.length;
      const sentAt = Date.now();
      for (let k = 0; k < 25; k++) await out.captureFrame(frame(k, rate)); // 500 ms of speech, as fast as TTS hands it over
      out.flush();
      await waitFor(() => avatar.segments.length > before && avatar.segments[before]!.firstAudioAt !== undefined, 5000, 'the avatar to receive audio');
      await out.waitForPlayout();
      if (r === 0) continue; // warm-up
      const seg = avatar.segments[before]!;
      row.toOpen.push(seg.openedAt - sentAt);
      row.toAudio.push(seg.firstAudioAt! - sentAt);
    }
    await handle.close();

    // Fallback: the provider refuses → the built-in avatar shows its first frame.
    for (let r = 0; r < Math.min(runs, 5); r++) {
      const failing = { ...remoteProfileSchema.parse(c.profile(refusing.baseUrl)), name: `bench-${c.adapter}-refused` };
      const a0 = performance.now();
      const refused = await remoteAdapterFor(failing)
        .attach(ctx)
        .then(async (h) => {
          await h.close();
          return false;
        })
        .catch(() => true);
      if (!refused) throw new Error(`${c.adapter}: expected the provider to refuse`);
      const detectedWall = Date.now();
      row.detect.push(performance.now() - a0);
      const sink = new MemoryMediaSink();
      const builtin = await builtinAdapter({ ...builtinProfileSchema.parse({ adapter: 'builtin' }), name: 'builtin' }).attach({ ...ctx, sink });
      await waitFor(() => sink.frames.length > 0, 5000, "the built-in avatar's first frame");
      row.toFirstFrame.push(sink.frames[0]!.wallMs - detectedWall);
      await builtin.close();
    }
    return row;
  } finally {
    for (const a of avatars) await a.leave().catch(() => undefined);
    await provider.close();
    await refusing.close();
    await agent.disconnect();
  }
}

export async function benchRemoteAvatar(runs = 10, only: string[] = []): Promise<void> {
  initializeLogger({ pretty: false, level: 'error' });
  const logger = createLogger({ level: 'error' });
  const server = await startTestLiveKitServer();
  const rows: Row[] = [];
  try {
    for (const c of CASES) if (only.length === 0 || only.includes(c.adapter)) rows.push(await benchOne(server, c, runs, logger));
  } finally {
    await server.close();
  }
  console.log('\n# remote avatars (provider fakes, DataStream over the test server, loopback)');
  console.log('| provider | join (attach → video) | first TTS frame → stream open | → first audio decoded | 401 detected | → built-in first frame |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.adapter} | ${r.joinMs.toFixed(0)} ms | ${fmt(r.toOpen)} | ${fmt(r.toAudio)} | ${fmt(r.detect)} | ${fmt(r.toFirstFrame)} |`);
  console.log('Medians (min-max); speech over', runs, 'runs after a warm-up; fallback over', Math.min(runs, 5), 'runs.');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchRemoteAvatar(Number(process.argv[2] ?? 10), process.argv.slice(3))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(() => dispose());
}

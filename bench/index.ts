/** `npm run bench`: every benchmark, figures printed (never asserted). */
import { cpus } from 'node:os';
import { dispose } from '@livekit/rtc-node';
import { benchBuiltinAvatar } from './builtin-avatar.js';
import { benchClientAvatar } from './client-avatar.js';
import { benchConcurrency } from './concurrency.js';
import { benchLongCall, parseLongCallArgs } from './long-call.js';
import { benchRemoteAvatar } from './remote-avatar.js';
import { benchRenderer } from './renderer.js';
import { benchSoak } from './soak.js';
import { benchTurnLatency } from './turn-latency.js';
import { benchUnrealBridge } from './unreal-bridge.js';
import { benchAudioByteStream } from './audio-byte-stream.js';

console.log(`# voice-avatar-worker bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
await benchBuiltinAvatar();
await benchTurnLatency(Number(process.env.BENCH_TURNS ?? 20));
benchAudioByteStream();
await benchRemoteAvatar(Number(process.env.BENCH_REMOTE_RUNS ?? 10));
await benchUnrealBridge();
await benchRenderer();
await benchConcurrency({ maxConversations: Number(process.env.BENCH_MAX_CONVERSATIONS ?? 12) });
// The same with the avatar drawn by the viewer (the worker sends voice only), and what each viewer receives and draws.
await benchConcurrency({ maxConversations: Number(process.env.BENCH_MAX_CONVERSATIONS ?? 16), kind: 'client' });
await benchClientAvatar();
// Ten minutes of back-to-back conversations (memory growth, plot in bench/out/); BENCH_SOAK_MINUTES=0 skips it.
const soakMinutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10);
if (soakMinutes > 0) await benchSoak(soakMinutes);
// One long call per family in a real job process (memory slope after GC, plot in docs/): LONG_CALL_MINUTES
// (default 10; 0 skips), LONG_CALL_FAMILY (default: the default family, then a mostly silent call).
if (process.env.LONG_CALL_MINUTES !== '0') {
  const longCall = parseLongCallArgs([], { LONG_CALL_FAMILY: 'default,silence', ...process.env });
  for (const family of longCall.families) await benchLongCall({ minutes: longCall.minutes, family });
}
await dispose();
process.exit(0);

/** `npm run bench`: every benchmark, figures printed (never asserted). */
import { cpus } from 'node:os';
import { dispose } from '@livekit/rtc-node';
import { benchBuiltinAvatar } from './builtin-avatar.js';
import { benchConcurrency } from './concurrency.js';
import { benchRemoteAvatar } from './remote-avatar.js';
import { benchRenderer } from './renderer.js';
import { benchSoak } from './soak.js';
import { benchTurnLatency } from './turn-latency.js';
import { benchUnrealBridge } from './unreal-bridge.js';

console.log(`# voice-avatar-worker bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
await benchBuiltinAvatar();
await benchTurnLatency(Number(process.env.BENCH_TURNS ?? 20));
await benchRemoteAvatar(Number(process.env.BENCH_REMOTE_RUNS ?? 10));
await benchUnrealBridge();
await benchRenderer();
await benchConcurrency({ maxConversations: Number(process.env.BENCH_MAX_CONVERSATIONS ?? 12) });
// Ten minutes of back-to-back conversations (memory growth, plot in bench/out/); BENCH_SOAK_MINUTES=0 skips it.
const soakMinutes = Number(process.env.BENCH_SOAK_MINUTES ?? 10);
if (soakMinutes > 0) await benchSoak(soakMinutes);
await dispose();
process.exit(0);

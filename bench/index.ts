/** `npm run bench`: every benchmark, figures printed (never asserted). */
import { cpus } from 'node:os';
import { dispose } from '@livekit/rtc-node';
import { benchBuiltinAvatar } from './builtin-avatar.js';
import { benchRemoteAvatar } from './remote-avatar.js';
import { benchRenderer } from './renderer.js';
import { benchTurnLatency } from './turn-latency.js';
import { benchUnrealBridge } from './unreal-bridge.js';

console.log(`# voice-avatar-worker bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
await benchBuiltinAvatar();
await benchTurnLatency(Number(process.env.BENCH_TURNS ?? 20));
await benchRemoteAvatar(Number(process.env.BENCH_REMOTE_RUNS ?? 10));
await benchUnrealBridge();
await benchRenderer();
await dispose();
process.exit(0);

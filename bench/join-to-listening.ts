/**
 * How long a user waits after the click: from the user's Room.connect() to the agent in the room,
 * and to its `lk.agent.state` = listening (the moment the page says "ask it a question"). The real
 * worker against the test server and the fakes, in `dev` (job process forked when the call comes),
 * `dev` with one warm idle process (what `npm run dev` now runs), and `start` (production, warm
 * processes). Two calls each: the first after start-up, and the next.
 *
 *   npx tsx bench/join-to-listening.ts [--only dev|start] [--load-threshold 1] [--start-idle N]
 *
 * `--load-threshold` sets WORKER_LOAD_THRESHOLD for `start` (default 0.7 there): on a machine
 * other work keeps busy, the production worker reports itself full and is not dispatched to, and
 * the bench then measures the other work. `--start-idle` sets `start`'s WORKER_IDLE_PROCESSES
 * (default 1, as `npm run dev`; production's own default is min(cores, 4)).
 */
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { ParticipantInfo_Kind, WorkerStatus } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { startFakeOpenAI } from '../test/fakes/openai.js';
import { freePort } from '../test/fakes/net.js';
import { startTestLiveKitServer } from '../test/livekit-server/index.js';
import { connectClient, RoomEvent, sleep, waitUntil } from '../test/livekit-server/testing.js';
import { startWorkerProcess } from '../test/e2e/worker-process.js';

export async function benchJoinToListening(opts: { only?: 'dev' | 'start'; loadThreshold?: string; startIdle?: string } = {}): Promise<void> {
  const startIdle = opts.startIdle ?? '1';
  const server = await startTestLiveKitServer({ departureTimeoutS: 1 });
  const openai = await startFakeOpenAI();
  const threshold: Record<string, string> = opts.loadThreshold ? { WORKER_LOAD_THRESHOLD: opts.loadThreshold } : {};
  const all: { name: string; command: 'dev' | 'start'; env: Record<string, string> }[] = [
    { name: 'dev, no idle process (src/main.ts dev)', command: 'dev', env: {} },
    { name: 'dev, 1 warm idle process (npm run dev)', command: 'dev', env: { WORKER_IDLE_PROCESSES: '1' } },
    {
      name: `start, ${startIdle} warm idle process${startIdle === '1' ? '' : 'es'}${opts.loadThreshold ? `, WORKER_LOAD_THRESHOLD=${opts.loadThreshold}` : ''}`,
      command: 'start',
      env: { WORKER_IDLE_PROCESSES: startIdle, HEALTH_PORT: String(await freePort()), DRAIN_TIMEOUT_MS: '10000', ...threshold },
    },
  ];
  const modes = all.filter((m) => !opts.only || m.command === opts.only);
  console.log(`## join → agent listening (${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; test server and fakes on loopback)`);
  let n = 0;
  for (const mode of modes) {
    const worker = startWorkerProcess(
      {
        LIVEKIT_URL: server.url,
        LIVEKIT_API_KEY: server.apiKey,
        LIVEKIT_API_SECRET: server.apiSecret,
        OPENAI_API_KEY: 'sk-bench-123456',
        STT_BASE_URL: openai.baseURL,
        LLM_BASE_URL: openai.baseURL,
        TTS_BASE_URL: openai.baseURL,
        AVATAR: 'default',
        AVATARS_DIR: fileURLToPath(new URL('../avatars', import.meta.url)),
        METRICS_PORT: '0',
        LIVEKIT_INFERENCE_URL: 'http://127.0.0.1:9',
        ...mode.env,
      },
      mode.command,
    );
    await waitUntil(() => worker.lines.some((l) => l.includes('registered worker')), 180_000, 'the worker to register').catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; worker output:\n${worker.tail(30)}`);
    });
    // Warm processes (when asked for) prewarm in the background: give them the time a user would.
    await sleep(15_000);
    const calls: string[] = [];
    for (let call = 0; call < 2; call++) {
      const started = performance.now();
      const { room } = await connectClient(server, { identity: 'user', room: `join-${++n}` }, { timeoutMs: 60_000 });
      let listeningAt = 0;
      room.on(RoomEvent.ParticipantAttributesChanged, (changed) => {
        if (changed['lk.agent.state'] === 'listening' && !listeningAt) listeningAt = performance.now();
      });
      await waitUntil(() => [...room.remoteParticipants.values()].some((p) => p.kind === (ParticipantInfo_Kind.AGENT as number)), 120_000, 'the agent').catch((e: unknown) => {
        // Why not: a worker that reports itself full (agents' load ≥ WORKER_LOAD_THRESHOLD) is offered
        // no job, here as on LiveKit's server, and a room's dispatch is not retried once it found none.
        const capacity = worker.lines.filter((l) => /capacity/.test(l)).map((l) => l.replace(/^.*"msg":"|"}$/g, '')).slice(-3);
        throw new Error(`${(e as Error).message}; the server's view of the worker: ${JSON.stringify(server.workers().map((w) => ({ status: WorkerStatus[w.status], load: w.load })))}; its last capacity lines: ${JSON.stringify(capacity)}`);
      });
      const joinedAt = performance.now();
      await waitUntil(() => listeningAt > 0 || [...room.remoteParticipants.values()].some((p) => p.attributes['lk.agent.state'] === 'listening'), 120_000, 'listening');
      listeningAt ||= performance.now();
      calls.push(`agent joined ${(joinedAt - started).toFixed(0)} ms, listening ${(listeningAt - started).toFixed(0)} ms`);
      await room.disconnect();
      await sleep(2_000);
    }
    console.log(`${mode.name}: first call: ${calls[0]}; next call: ${calls[1]}`);
    await worker.stop(30_000).catch((e: unknown) => console.log(String(e)));
  }
  await Promise.all([server.close(), openai.close()]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const only = arg('--only');
  if (only !== undefined && only !== 'dev' && only !== 'start') throw new Error('--only dev|start');
  const startIdle = arg('--start-idle');
  if (startIdle !== undefined && !/^[1-9]\d*$/.test(startIdle)) throw new Error('--start-idle N: a whole number of warm job processes, 1 or more');
  await benchJoinToListening({
    ...(only ? { only } : {}),
    ...(arg('--load-threshold') ? { loadThreshold: arg('--load-threshold')! } : {}),
    ...(startIdle ? { startIdle } : {}),
  });
  await dispose();
  process.exit(0);
}

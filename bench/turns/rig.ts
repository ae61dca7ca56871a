/**
 * One side of the side-by-side: a worker (`src/main.ts dev`, job and inference processes as in
 * production) under one turn-taking config, its own provider fakes, and a caller in its own room.
 * The fakes are told, turn by turn, what the user says (so the fake STT transcribes the WAV as its
 * text: interim results while it is spoken, a final at each pause) and how slow to be.
 */
import { fileURLToPath } from 'node:url';
import { startFakeDeepgram, DEFAULT_MIN_PAUSE_MS, type FakeDeepgram } from '../../test/fakes/deepgram.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../test/fakes/openai.js';
import type { TestLiveKitServer } from '../../test/livekit-server/index.js';
import { isAlive, startWorkerProcess, type WorkerProcess } from '../../test/e2e/worker-process.js';
import { waitUntil } from '../../test/livekit-server/testing.js';
import { Caller } from './caller.js';
import type { ChainDraw, LatencyProfile } from './profiles.js';
import { firstClauseGaps } from './report.js';
import type { RecordedRequest } from '../../test/fakes/knobs.js';

export type ConfigName = 'ours' | 'stock';

export interface Rig {
  name: ConfigName;
  caller: Caller;
  worker: WorkerProcess;
  /** Sets what the next utterances say (one entry per speech stretch) and this turn's provider latencies. */
  prepare(transcripts: string[], reply: string, draw: ChainDraw): void;
  /** See fakesTrace. */
  fakesTrace(replyHeardAt: number, reply: string, draw: ChainDraw): FakesTrace | undefined;
  close(): Promise<void>;
}

export interface RigOptions {
  name: ConfigName;
  server: TestLiveKitServer;
  profile: LatencyProfile;
  /** The fake STT's speech threshold (RMS, PCM16) for this corpus. */
  speechThreshold: number;
  /** Extra worker environment (e.g. a setting under test). */
  env?: Record<string, string>;
  inferenceUrl: string;
}

/** Every worker a rig started and has not stopped yet, so an interrupted bench can stop them. */
export const liveWorkers = new Set<WorkerProcess>();

export async function startRig(options: RigOptions): Promise<Rig> {
  const queue: string[] = [];
  let reply = 'Okay.';
  const deepgram: FakeDeepgram = await startFakeDeepgram({ transcripts: () => queue.shift() ?? '', speechThreshold: options.speechThreshold });
  const openai: FakeOpenAI = await startFakeOpenAI({ reply: () => reply });
  const { profile, server } = options;
  openai.setKnobs('chat', { tokenIntervalMs: profile.llmTokenMs });
  // 100 ms chunks, delivered `ttsRealtimeFactor` times faster than they play.
  openai.setKnobs('speech', { chunkIntervalMs: Math.round(100 / profile.ttsRealtimeFactor) });
  // The handshakes a cloud API costs on each new connection (this fake is plain HTTP on loopback).
  openai.setConnectMs(profile.connectMs);
  const agentName = `bench-${options.name}`;
  const worker = startWorkerProcess({
    LIVEKIT_URL: server.url,
    LIVEKIT_API_KEY: server.apiKey,
    LIVEKIT_API_SECRET: server.apiSecret,
    LIVEKIT_AGENT_NAME: agentName,
    STT_PROVIDER: 'deepgram',
    DEEPGRAM_API_KEY: 'dg-bench-key-123',
    STT_BASE_URL: deepgram.baseUrl,
    OPENAI_API_KEY: 'sk-bench-key-123',
    LLM_BASE_URL: openai.baseURL,
    TTS_PROVIDER: 'openai',
    TTS_BASE_URL: openai.baseURL,
    AVATAR: 'default',
    AVATARS_DIR: fileURLToPath(new URL('../../avatars', import.meta.url)),
    AGENT_GREETING: '',
    LOG_LEVEL: 'warn',
    METRICS_PORT: '0',
    TURN_PRESET: options.name === 'ours' ? 'tuned' : 'stock',
    // Nothing may reach LiveKit Cloud; a 503 sentinel stands in for its inference gateway.
    LIVEKIT_INFERENCE_URL: options.inferenceUrl,
    ...options.env,
  });
  liveWorkers.add(worker);
  const closeAll = async () => {
    await worker.stop(20_000).catch(() => undefined);
    liveWorkers.delete(worker);
    await Promise.all([deepgram.close(), openai.close()]);
  };
  try {
    await waitUntil(() => server.workers().some((w) => w.agentName === agentName) || !isAlive(worker.pid), 60_000, `the ${agentName} worker to register`);
    if (!isAlive(worker.pid)) throw new Error(`the ${agentName} worker exited:\n${worker.tail(30)}`);
    const caller = await Caller.join({ url: server.url, apiKey: server.apiKey, apiSecret: server.apiSecret, room: `bench-turns-${options.name}`, agentName });
    return {
      name: options.name,
      caller,
      worker,
      prepare(transcripts, nextReply, draw) {
        queue.length = 0;
        queue.push(...transcripts);
        reply = nextReply;
        // The fake finalises after its own pause detection (DEFAULT_MIN_PAUSE_MS of audio); the rest
        // of the drawn "final after end of speech" is added as latency.
        deepgram.setKnobs({ latencyMs: Math.max(0, draw.sttFinalMs - DEFAULT_MIN_PAUSE_MS) });
        openai.setKnobs('chat', { ttftMs: draw.llmTtftMs });
        openai.setKnobs('speech', { ttfbMs: draw.ttsTtfbMs });
      },
      fakesTrace: (replyHeardAt, reply, draw) => fakesTrace(openai.requests, replyHeardAt, firstClauseGaps(reply), draw, profile.llmTokenMs),
      async close() {
        await caller.close();
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * The fakes' own account of a reply heard at `replyHeardAt` (wall clock, ms since the epoch): the
 * LLM's request (the last chat request before the reply: earlier ones were preemptive and
 * cancelled), when it wrote the first token and the first clause's last one, and the first speech
 * request after it and its first byte. Set against the worker's marks, these split the worker's
 * share into links (request set-up, stream parsing, tokenizing) and the fakes' share.
 */
export interface FakesTrace {
  chatAt: number;
  firstTokenAt: number;
  clauseAt: number;
  speechAt: number;
  firstByteAt: number;
  /** The LLM's and the TTS's request each opened a connection (and paid its handshake). */
  chatNewConnection: boolean;
  speechNewConnection: boolean;
  /**
   * How late the fakes were beyond what the profile drew: the first clause after its time to first
   * token and token pacing, plus the TTS's first byte. A fake's timers run in the bench's own busy
   * process; without this, their lateness would count as the worker's.
   */
  lateMs: number;
}

export function fakesTrace(requests: readonly RecordedRequest[], replyHeardAt: number, gaps: number, draw: ChainDraw, tokenMs: number): FakesTrace | undefined {
  const chat = [...requests].reverse().find((r) => r.endpoint === 'chat' && r.at <= replyHeardAt && (r.writes?.length ?? 0) > 1 + gaps);
  if (!chat) return undefined;
  const speech = requests.find((r) => r.endpoint === 'speech' && r.seq > chat.seq && r.at <= replyHeardAt && (r.writes?.length ?? 0) > 0);
  if (!speech) return undefined;
  // writes[0] is the role chunk, writes[1] the first token, each later one a token gap after.
  const firstTokenAt = chat.writes![1]!;
  const clauseAt = chat.writes![1 + gaps]!;
  const firstByteAt = speech.writes![0]!;
  const llmLate = clauseAt - chat.at - (draw.llmTtftMs + gaps * tokenMs);
  const ttsLate = firstByteAt - speech.at - draw.ttsTtfbMs;
  return {
    chatAt: chat.at,
    firstTokenAt,
    clauseAt,
    speechAt: speech.at,
    firstByteAt,
    chatNewConnection: chat.newConnection === true,
    speechNewConnection: speech.newConnection === true,
    lateMs: Math.max(0, llmLate) + Math.max(0, ttsLate),
  };
}

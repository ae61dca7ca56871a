/**
 * How the benches tell the worker's own share of a turn from the providers': the fakes are told to
 * add provider-like latencies, and whatever a turn takes beyond them (and beyond the endpointing
 * wait the config asks for) is ours. One definition, so every bench subtracts the same thing.
 */
import type { TurnTimings } from '../../src/metrics/turn-timeline.js';
import { DEFAULT_MIN_PAUSE_MS, type FakeDeepgram } from '../../test/fakes/deepgram.js';
import type { FakeOpenAI } from '../../test/fakes/openai.js';

/** Latencies the fakes add, in ms: roughly what the cloud services take. */
export const INJECTED = { sttFinalMs: 150, llmTtftMs: 200, ttsTtfbMs: 150 } as const;
/** The fake LLM streams the reply one word per chunk, this far apart. */
export const TOKEN_INTERVAL_MS = 10;
export const ENDPOINTING_MIN_DELAY_MS = 400;
/** Silero's default silence before it declares the end of speech; the turn cannot end sooner. */
export const VAD_MIN_SILENCE_MS = 550;
/** What every benched conversation asks, and what the fake LLM answers (bench/turn-latency.ts uses the same). */
export const QUESTION = 'What is the weather like today?';
export const REPLY = 'It is sunny. Enjoy your day.';
/**
 * How long the LLM's own pacing holds back the first TTS request, after the first token: agents'
 * basic sentence tokenizer (minSentenceLength 20) merges "It is sunny." into the next sentence,
 * so the whole reply is one segment, released when the stream ends: after the reply's other
 * words and the finish chunk, each TOKEN_INTERVAL_MS apart. (Counting only the three words of
 * "It is sunny." would charge the worker 40 ms of the LLM's pacing.)
 */
export const LLM_PACING_BEFORE_FIRST_SEGMENT_MS = TOKEN_INTERVAL_MS * (REPLY.match(/\s*\S+\s*$|\s*\S+/g)?.length ?? 0);
/** Config the benches run under (on top of the fakes' addresses). */
export const BENCH_ENV = { ENDPOINTING_MIN_DELAY_MS: String(ENDPOINTING_MIN_DELAY_MS), TURN_DETECTION: 'vad' } as const;

export function injectProviderLatency(deepgram: FakeDeepgram, openai: FakeOpenAI): void {
  deepgram.setKnobs({ latencyMs: INJECTED.sttFinalMs });
  openai.setKnobs('chat', { ttftMs: INJECTED.llmTtftMs, tokenIntervalMs: TOKEN_INTERVAL_MS });
  openai.setKnobs('speech', { ttfbMs: INJECTED.ttsTtfbMs });
}

export interface WorkerAdded {
  /** STT plugin and transport: transcript later than the fake's endpointing plus its latency. */
  stt: number;
  /** Transcript → LLM request → first token, less the injected time to first token. */
  llm: number;
  /** First token → first sentence → TTS first audio, less the TTS latency and the LLM's pacing. */
  tts: number;
  /** TTS audio → first avatar frame handed to the sink (video tick, render). */
  avatar: number;
  total: number;
}

/** The worker's share of one turn, link by link; undefined when a mark is missing. */
export function workerAdded(t: TurnTimings): WorkerAdded | undefined {
  if (t.transcriptMs === undefined || t.llmFirstTokenMs === undefined || t.ttsFirstAudioMs === undefined) return undefined;
  const stt = t.transcriptMs - DEFAULT_MIN_PAUSE_MS - INJECTED.sttFinalMs;
  const llm = t.llmFirstTokenMs - t.transcriptMs - INJECTED.llmTtftMs;
  const tts = t.ttsFirstAudioMs - t.llmFirstTokenMs - INJECTED.ttsTtfbMs - LLM_PACING_BEFORE_FIRST_SEGMENT_MS;
  const avatar = t.firstAvatarFrameMs - t.ttsFirstAudioMs;
  return { stt, llm, tts, avatar, total: stt + llm + tts + avatar };
}

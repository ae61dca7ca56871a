/**
 * "The cloud" for the load benches: the Deepgram and OpenAI fakes, with provider-like latencies,
 * in the bench's parent process. The worker under test runs in a child process, so the fakes'
 * own work (energy detection, streaming speech) never shows up in its CPU, memory or event loop;
 * on a 2-core machine they still compete for the cores, which makes the figures conservative.
 */
import { startFakeDeepgram } from '../../test/fakes/deepgram.js';
import { startFakeOpenAI } from '../../test/fakes/openai.js';
import { BENCH_ENV, injectProviderLatency, QUESTION, REPLY } from './worker-added.js';

export interface FakeCloud {
  /** Environment for `loadConfig`: keys and base URLs of the fakes, and the bench's turn settings. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startFakeCloud(): Promise<FakeCloud> {
  // Every utterance of every connection asks the same question, so any number of conversations
  // can share one fake of each service.
  const deepgram = await startFakeDeepgram({ transcripts: () => QUESTION });
  const openai = await startFakeOpenAI({ transcripts: () => QUESTION, reply: REPLY });
  injectProviderLatency(deepgram, openai);
  return {
    env: {
      DEEPGRAM_API_KEY: 'dg-bench-key-123',
      OPENAI_API_KEY: 'sk-bench-key-123',
      STT_PROVIDER: 'deepgram',
      STT_BASE_URL: deepgram.baseUrl,
      LLM_BASE_URL: openai.baseURL,
      TTS_PROVIDER: 'openai',
      TTS_BASE_URL: openai.baseURL,
      AGENT_GREETING: '',
      LOG_LEVEL: 'error',
      ...BENCH_ENV,
    },
    async close() {
      await Promise.all([deepgram.close(), openai.close()]);
    },
  };
}

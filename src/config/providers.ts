import type { Env } from './env.js';

/**
 * Which provider serves each stage, and why. An explicit `*_PROVIDER` always wins; otherwise the
 * keys that are present decide, so a user with only OPENAI_API_KEY gets OpenAI for all three
 * stages and a DEEPGRAM_API_KEY / ELEVENLABS_API_KEY picks that provider for its stage. The
 * reason is shown in the start-up block (`npm run dev`) and the doctor.
 */
export interface ProviderChoice<P extends string> {
  provider: P;
  /** e.g. "OPENAI_API_KEY is set", "STT_PROVIDER=deepgram". */
  because: string;
}

export interface ProviderChoices {
  stt: ProviderChoice<'deepgram' | 'openai'>;
  llm: ProviderChoice<'openai'>;
  tts: ProviderChoice<'elevenlabs' | 'openai'>;
  /** Keys present for a stage that does not use them: said once at start-up, never an error. */
  notes: string[];
}

export function chooseProviders(env: Env): ProviderChoices {
  const stt = chooseStt(env);
  const tts = chooseTts(env);
  const llm: ProviderChoice<'openai'> = {
    provider: 'openai',
    because: env.LLM_BASE_URL ? 'LLM_BASE_URL is set' : env.LLM_API_KEY ? 'LLM_API_KEY is set' : env.OPENAI_API_KEY ? 'OPENAI_API_KEY is set' : 'the default',
  };
  const notes: string[] = [];
  if (env.DEEPGRAM_API_KEY && stt.provider !== 'deepgram') notes.push(`DEEPGRAM_API_KEY is set but speech to text uses ${stt.provider} (${stt.because}); the key is not used`);
  if (env.ELEVENLABS_API_KEY && tts.provider !== 'elevenlabs') notes.push(`ELEVENLABS_API_KEY is set but text to speech uses ${tts.provider} (${tts.because}); the key is not used`);
  const openaiUsed =
    (stt.provider === 'openai' && !env.STT_API_KEY) || (!env.LLM_API_KEY) || (tts.provider === 'openai' && !env.TTS_API_KEY);
  if (env.OPENAI_API_KEY && !openaiUsed) notes.push('OPENAI_API_KEY is set but every stage has its own key; the key is not used');
  return { stt, llm, tts, notes };
}

function chooseStt(env: Env): ProviderChoices['stt'] {
  if (env.STT_PROVIDER) return { provider: env.STT_PROVIDER, because: `STT_PROVIDER=${env.STT_PROVIDER}` };
  if (env.DEEPGRAM_API_KEY) return { provider: 'deepgram', because: 'DEEPGRAM_API_KEY is set' };
  // Deepgram is reached over a websocket; an http(s) base URL is an OpenAI-compatible server.
  if (env.STT_BASE_URL) return { provider: /^wss?:/.test(env.STT_BASE_URL) ? 'deepgram' : 'openai', because: `STT_BASE_URL is set` };
  // Before keys chose providers, STT_API_KEY alone meant Deepgram (the old default): keep that.
  if (env.STT_API_KEY) return { provider: 'deepgram', because: 'STT_API_KEY is set (Deepgram, the default with its own key)' };
  if (env.OPENAI_API_KEY) return { provider: 'openai', because: 'OPENAI_API_KEY is set' };
  return { provider: 'openai', because: 'no key is set' };
}

function chooseTts(env: Env): ProviderChoices['tts'] {
  if (env.TTS_PROVIDER) return { provider: env.TTS_PROVIDER, because: `TTS_PROVIDER=${env.TTS_PROVIDER}` };
  if (env.ELEVENLABS_API_KEY) return { provider: 'elevenlabs', because: 'ELEVENLABS_API_KEY is set' };
  if (env.TTS_BASE_URL) return { provider: /elevenlabs\.io/.test(env.TTS_BASE_URL) ? 'elevenlabs' : 'openai', because: 'TTS_BASE_URL is set' };
  if (env.TTS_API_KEY) return { provider: 'openai', because: 'TTS_API_KEY is set (OpenAI, the default)' };
  if (env.OPENAI_API_KEY) return { provider: 'openai', because: 'OPENAI_API_KEY is set' };
  return { provider: 'openai', because: 'no key is set' };
}

import { z } from 'zod';
import { EMPTY_IS_A_VALUE, envSchema, SECRET_VARIABLES, type Env } from './env.js';
import { chooseProviders, type ProviderChoices } from './providers.js';

/** A setting is missing or wrong. The message is one line: the variable, what is wrong, the fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

export type SttConfig =
  | { provider: 'deepgram'; apiKey: string; model: string; language: string; baseUrl?: string }
  | { provider: 'openai'; apiKey: string; model: string; language: string; baseUrl?: string };

export interface LlmConfig {
  provider: 'openai';
  apiKey: string;
  model: string;
  baseUrl?: string;
  temperature?: number;
}

export type TtsConfig =
  | { provider: 'openai'; apiKey: string; model: string; voice: string; baseUrl?: string }
  | { provider: 'elevenlabs'; apiKey: string; model: string; voice: string; baseUrl?: string };

/** Credentials avatar adapters may need; each adapter checks for its own and names the variable when missing. */
export interface AvatarKeys {
  tavus?: string;
  liveavatar?: string;
  bey?: string;
  anam?: string;
  lemonslice?: string;
  simli?: string;
  did?: string;
  runway?: string;
  synthesia?: string;
  trugen?: string;
  keyframe?: string;
  avatario?: string;
  protoface?: string;
  /** BITHUMAN_API_SECRET: sent only in bitHuman's api-secret header, never into the room. */
  bithuman?: string;
  avatartalk?: string;
  /** AVATAR_LAUNCH_SECRET: sent to a self-hosted avatar runner's /launch. */
  launchSecret?: string;
  /** AVATAR_RENDERER_SECRET: bearer for a self-hosted renderer. */
  rendererSecret?: string;
}

export interface Config {
  livekit: {
    url: string;
    apiKey: string;
    apiSecret: string;
    agentName?: string;
    /** LIVEKIT_PUBLIC_URL: where browsers and avatar providers' clouds reach LiveKit, when it differs from url. */
    publicUrl?: string;
  };
  stt: SttConfig;
  llm: LlmConfig;
  tts: TtsConfig;
  /** Which provider each stage uses and which key chose it; keys present but unused. */
  choices: ProviderChoices;
  agent: { instructions: string; greeting: string; historyMaxItems: number };
  turn: {
    preset: 'tuned' | 'stock';
    detection: 'model' | 'vad' | 'stt';
    vadMinSilenceMs: number;
    preemptiveTts: boolean;
    preemptiveMaxPerTurn: number;
    warmConnections: boolean;
    interruptionMinDurationMs: number;
    /** Pause the avatar at the onset of the user's voice over it (tuned preset, vad interruption). */
    pauseAtSpeechOnset: boolean;
    minEndpointingDelayMs: number;
    maxEndpointingDelayMs: number;
    endpointingMode: 'fixed' | 'dynamic';
    preemptiveGeneration: boolean;
    allowInterruptions: boolean;
    interruptionMode: 'vad' | 'adaptive';
  };
  avatar: { name: string; dir: string; keys: AvatarKeys };
  providers: { timeoutMs: number; maxRetries: number };
  /** Operations: the latency budget a turn is checked against, Prometheus /metrics (0: off), drain on SIGTERM. */
  ops: {
    latencyBudgetMs: number;
    metricsPort: number;
    drainTimeoutMs: number;
    jobMemoryWarnMB: number;
    jobMemoryLimitMB: number;
    /** Growth of a call's job memory (MB/h) above which it is logged as a warning; 0: never. */
    jobMemoryGrowthWarnMBPerHour: number;
    health: { host: string; port?: number };
    idleProcesses?: number;
    /** Unset: the agents default (0.7 in production, never full in dev). */
    loadThreshold?: number;
    /** 0: derived from the CPU cores. */
    maxAvatarRenders: number;
  };
  /** OpenTelemetry trace export; absent when OTEL_EXPORTER_OTLP_ENDPOINT is not set. */
  tracing?: { endpoint: string; serviceName: string };
  logLevel: Env['LOG_LEVEL'];
  /** Unset: JSON; `src/main.ts dev` sets LOG_FORMAT=pretty for itself and its job processes. */
  logFormat: 'pretty' | 'json';
  /** Every secret value in force, so logs can scrub them wherever they appear. */
  secrets: string[];
}

/** Local OpenAI-compatible servers (Ollama, vLLM, Speaches) ignore the key, but the client needs one. */
const UNUSED_KEY = 'unused';

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(pickKnown(source));
  if (!parsed.success) throw toConfigError(parsed.error, source);
  const env = parsed.data;

  if (env.ENDPOINTING_MAX_DELAY_MS < env.ENDPOINTING_MIN_DELAY_MS) {
    throw new ConfigError(
      'ENDPOINTING_MAX_DELAY_MS',
      `ENDPOINTING_MAX_DELAY_MS (${env.ENDPOINTING_MAX_DELAY_MS}) is below ENDPOINTING_MIN_DELAY_MS (${env.ENDPOINTING_MIN_DELAY_MS}); raise it or lower the minimum`,
    );
  }

  if (env.JOB_MEMORY_LIMIT_MB > 0 && env.JOB_MEMORY_LIMIT_MB <= env.JOB_MEMORY_WARN_MB) {
    throw new ConfigError(
      'JOB_MEMORY_LIMIT_MB',
      `JOB_MEMORY_LIMIT_MB (${env.JOB_MEMORY_LIMIT_MB}) must be above JOB_MEMORY_WARN_MB (${env.JOB_MEMORY_WARN_MB}), or 0 for no limit`,
    );
  }

  const choices = chooseProviders(env);
  const config: Config = {
    livekit: {
      url: env.LIVEKIT_URL,
      apiKey: env.LIVEKIT_API_KEY,
      apiSecret: env.LIVEKIT_API_SECRET,
      ...(env.LIVEKIT_AGENT_NAME ? { agentName: env.LIVEKIT_AGENT_NAME } : {}),
      ...(env.LIVEKIT_PUBLIC_URL ? { publicUrl: env.LIVEKIT_PUBLIC_URL } : {}),
    },
    stt: sttConfig(env, choices.stt.provider),
    llm: {
      provider: 'openai',
      apiKey: requireKey('LLM_API_KEY', env.LLM_API_KEY ?? env.OPENAI_API_KEY, env.LLM_BASE_URL, 'OPENAI_API_KEY', 'LLM_BASE_URL to an OpenAI-compatible server such as Ollama (http://localhost:11434/v1)'),
      model: env.LLM_MODEL,
      ...(env.LLM_BASE_URL ? { baseUrl: env.LLM_BASE_URL } : {}),
      ...(env.LLM_TEMPERATURE !== undefined ? { temperature: env.LLM_TEMPERATURE } : {}),
    },
    tts: ttsConfig(env, choices.tts.provider),
    choices,
    agent: { instructions: env.AGENT_INSTRUCTIONS, greeting: env.AGENT_GREETING, historyMaxItems: env.LLM_HISTORY_MAX_ITEMS },
    turn: {
      preset: env.TURN_PRESET,
      detection: env.TURN_DETECTION,
      vadMinSilenceMs: env.VAD_MIN_SILENCE_MS,
      preemptiveTts: env.PREEMPTIVE_TTS,
      preemptiveMaxPerTurn: env.PREEMPTIVE_MAX_PER_TURN,
      warmConnections: env.WARM_CONNECTIONS,
      interruptionMinDurationMs: env.INTERRUPTION_MIN_DURATION_MS,
      pauseAtSpeechOnset: env.INTERRUPTION_PAUSE_AT_ONSET,
      minEndpointingDelayMs: env.ENDPOINTING_MIN_DELAY_MS,
      maxEndpointingDelayMs: env.ENDPOINTING_MAX_DELAY_MS,
      endpointingMode: env.ENDPOINTING_MODE,
      preemptiveGeneration: env.PREEMPTIVE_GENERATION,
      allowInterruptions: env.ALLOW_INTERRUPTIONS,
      interruptionMode: env.INTERRUPTION_MODE,
    },
    avatar: {
      name: env.AVATAR,
      dir: env.AVATARS_DIR,
      keys: dropUndefined({
        tavus: env.TAVUS_API_KEY,
        liveavatar: env.LIVEAVATAR_API_KEY,
        bey: env.BEY_API_KEY,
        anam: env.ANAM_API_KEY,
        lemonslice: env.LEMONSLICE_API_KEY,
        simli: env.SIMLI_API_KEY,
        did: env.DID_API_KEY,
        runway: env.RUNWAYML_API_SECRET,
        synthesia: env.SYNTHESIA_API_KEY,
        trugen: env.TRUGEN_API_KEY,
        keyframe: env.KEYFRAME_API_KEY,
        avatario: env.AVATARIO_API_KEY,
        protoface: env.PROTOFACE_API_KEY,
        bithuman: env.BITHUMAN_API_SECRET,
        avatartalk: env.AVATARTALK_API_KEY,
        launchSecret: env.AVATAR_LAUNCH_SECRET,
        rendererSecret: env.AVATAR_RENDERER_SECRET,
      }),
    },
    providers: { timeoutMs: env.PROVIDER_TIMEOUT_MS, maxRetries: env.PROVIDER_MAX_RETRIES },
    ops: {
      latencyBudgetMs: env.LATENCY_BUDGET_MS,
      metricsPort: env.METRICS_PORT,
      drainTimeoutMs: env.DRAIN_TIMEOUT_MS,
      jobMemoryWarnMB: env.JOB_MEMORY_WARN_MB,
      jobMemoryLimitMB: env.JOB_MEMORY_LIMIT_MB,
      jobMemoryGrowthWarnMBPerHour: env.JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR,
      health: { host: env.HEALTH_HOST, ...(env.HEALTH_PORT !== undefined ? { port: env.HEALTH_PORT } : {}) },
      ...(env.WORKER_IDLE_PROCESSES !== undefined ? { idleProcesses: env.WORKER_IDLE_PROCESSES } : {}),
      ...(env.WORKER_LOAD_THRESHOLD !== undefined ? { loadThreshold: env.WORKER_LOAD_THRESHOLD } : {}),
      maxAvatarRenders: env.WORKER_MAX_AVATAR_RENDERS,
    },
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT ? { tracing: { endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: env.OTEL_SERVICE_NAME } } : {}),
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT ?? 'json',
    secrets: [],
  };
  config.secrets = SECRET_VARIABLES.map((name) => env[name])
    .filter((v): v is string => typeof v === 'string' && v.length >= 8 && v !== UNUSED_KEY);
  return config;
}

/** With no key at all, the first thing to say is the one key that serves every stage. */
const NO_KEY_HINT = 'OPENAI_API_KEY (OpenAI then serves speech to text, the language model and the voice)';

function sttConfig(env: Env, provider: SttConfig['provider']): SttConfig {
  if (provider === 'deepgram') {
    return {
      provider: 'deepgram',
      apiKey: requireKey('STT_API_KEY', env.STT_API_KEY ?? env.DEEPGRAM_API_KEY, undefined, 'DEEPGRAM_API_KEY', 'STT_PROVIDER=openai with STT_BASE_URL for a local Whisper server'),
      model: env.STT_MODEL ?? 'nova-3',
      language: env.STT_LANGUAGE,
      ...(env.STT_BASE_URL ? { baseUrl: env.STT_BASE_URL } : {}),
    };
  }
  if (!env.STT_PROVIDER && !env.STT_API_KEY && !env.OPENAI_API_KEY && !env.STT_BASE_URL) {
    throw new ConfigError('OPENAI_API_KEY', `no speech-to-text key is set; set ${NO_KEY_HINT}, or DEEPGRAM_API_KEY, or STT_BASE_URL to an OpenAI-compatible server such as Speaches (http://localhost:8000/v1)`);
  }
  return {
    provider: 'openai',
    apiKey: requireKey('STT_API_KEY', env.STT_API_KEY ?? env.OPENAI_API_KEY, env.STT_BASE_URL, 'OPENAI_API_KEY', 'STT_BASE_URL to an OpenAI-compatible server such as Speaches (http://localhost:8000/v1)'),
    model: env.STT_MODEL ?? 'gpt-4o-mini-transcribe',
    language: env.STT_LANGUAGE,
    ...(env.STT_BASE_URL ? { baseUrl: env.STT_BASE_URL } : {}),
  };
}

function ttsConfig(env: Env, provider: TtsConfig['provider']): TtsConfig {
  if (provider === 'elevenlabs') {
    return {
      provider: 'elevenlabs',
      apiKey: requireKey('TTS_API_KEY', env.TTS_API_KEY ?? env.ELEVENLABS_API_KEY, undefined, 'ELEVENLABS_API_KEY', 'TTS_PROVIDER=openai with TTS_BASE_URL for a local Kokoro server'),
      model: env.TTS_MODEL ?? 'eleven_flash_v2_5',
      voice: env.TTS_VOICE ?? 'EXAVITQu4vr4xnSDxMaL',
      ...(env.TTS_BASE_URL ? { baseUrl: env.TTS_BASE_URL } : {}),
    };
  }
  return {
    provider: 'openai',
    apiKey: requireKey('TTS_API_KEY', env.TTS_API_KEY ?? env.OPENAI_API_KEY, env.TTS_BASE_URL, 'OPENAI_API_KEY', 'TTS_BASE_URL to an OpenAI-compatible server such as Kokoro (http://localhost:8880/v1)'),
    model: env.TTS_MODEL ?? 'gpt-4o-mini-tts',
    voice: env.TTS_VOICE ?? 'alloy',
    ...(env.TTS_BASE_URL ? { baseUrl: env.TTS_BASE_URL } : {}),
  };
}

/**
 * A key is required for a hosted API. A self-hosted base URL makes it optional: the client
 * library still wants a string, so it gets a placeholder that is never a secret.
 */
function requireKey(variable: string, value: string | undefined, baseUrl: string | undefined, alias: string, alternative: string): string {
  if (value) return value;
  if (baseUrl) return UNUSED_KEY;
  throw new ConfigError(variable, `${variable} (or ${alias}) is not set; set it, or set ${alternative}`);
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Only our variables, and an empty value in a .env file means "not set", as people expect. */
function pickKnown(source: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    out[key] = value === '' && !EMPTY_IS_A_VALUE.has(key) ? undefined : value;
  }
  return out;
}

function toConfigError(error: z.ZodError, source: NodeJS.ProcessEnv): ConfigError {
  const issue = error.issues[0]!;
  const variable = String(issue.path[0] ?? 'environment');
  const raw = source[variable];
  // Never echo a secret back, even a malformed one.
  const shown = raw === undefined ? 'not set' : (SECRET_VARIABLES as readonly string[]).includes(variable) ? 'set' : JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);
  return new ConfigError(variable, `${variable} ${issue.message} (got ${shown}); fix it in the environment or .env, see .env.example`);
}

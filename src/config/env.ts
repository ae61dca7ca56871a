import { z } from 'zod';

/**
 * Every environment variable the worker reads, in one schema. `.env.example` documents the same
 * list; a test keeps the two in step. Nothing else in the code reads `process.env` for settings.
 */

const url = (what: string) =>
  z.url({ protocol: /^(https?|wss?)$/, error: `must be an http(s):// or ws(s):// URL (${what})` });

const wsUrl = z
  .string()
  .regex(/^(wss?|https?):\/\/[^\s]+$/, { error: 'must be a ws://, wss://, http:// or https:// URL, e.g. ws://localhost:7880' });

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveMs = (fallback: number) =>
  z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(0).max(60_000).default(fallback);


/** Variables where an empty value means something (no greeting), rather than "not set". */
export const EMPTY_IS_A_VALUE: ReadonlySet<string> = new Set(['AGENT_GREETING']);

export const envSchema = z.object({
  // LiveKit: the defaults are those of `livekit-server --dev`.
  LIVEKIT_URL: wsUrl.default('ws://localhost:7880'),
  LIVEKIT_API_KEY: z.string().min(1).default('devkey'),
  LIVEKIT_API_SECRET: z.string().min(1).default('secret'),
  LIVEKIT_AGENT_NAME: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1-64 letters, digits, _ . or -' }).optional(),

  // Speech to text
  /** Unset: chosen by the keys present (src/config/providers.ts). */
  STT_PROVIDER: z.enum(['deepgram', 'openai'], { error: 'must be deepgram or openai' }).optional(),
  STT_MODEL: z.string().min(1).optional(),
  STT_LANGUAGE: z.string().min(2).default('en'),
  STT_BASE_URL: url('an OpenAI-compatible /v1 base URL, or a Deepgram ws(s):// URL').optional(),
  STT_API_KEY: z.string().min(1).optional(),
  DEEPGRAM_API_KEY: z.string().min(1).optional(),

  // Language model (any OpenAI-compatible server: OpenAI, Ollama, vLLM, Groq...)
  LLM_PROVIDER: z.enum(['openai'], { error: 'must be openai (any OpenAI-compatible server via LLM_BASE_URL)' }).default('openai'),
  LLM_MODEL: z.string().min(1).default('gpt-4.1-mini'),
  LLM_BASE_URL: url('an OpenAI-compatible /v1 base URL, e.g. http://localhost:11434/v1 for Ollama').optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  LLM_TEMPERATURE: z.coerce.number({ error: 'must be a number' }).min(0).max(2).optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),

  // Text to speech
  /** Unset: chosen by the keys present (src/config/providers.ts). */
  TTS_PROVIDER: z.enum(['elevenlabs', 'openai'], { error: 'must be elevenlabs or openai' }).optional(),
  TTS_MODEL: z.string().min(1).optional(),
  TTS_VOICE: z.string().min(1).optional(),
  TTS_BASE_URL: url('for openai: an OpenAI-compatible /v1 base URL such as Kokoro or Speaches; for elevenlabs: https://api.elevenlabs.io/v1').optional(),
  TTS_API_KEY: z.string().min(1).optional(),
  ELEVENLABS_API_KEY: z.string().min(1).optional(),

  // Conversation
  AGENT_INSTRUCTIONS: z
    .string()
    .min(1)
    .default(
      'You are a friendly, concise voice assistant shown as an animated avatar. Answer in one to three short spoken sentences, without lists, markdown or emoji.',
    ),
  AGENT_GREETING: z.string().default('Hi! I can hear you. What would you like to talk about?'),
  /** The most recent conversation items the LLM is sent each turn (the instructions always go). */
  LLM_HISTORY_MAX_ITEMS: z.coerce.number({ error: 'must be a whole number' }).int().min(2, { error: 'must be at least 2 (the question and the answer before it)' }).max(10_000).default(60),

  // Turn taking
  /** tuned: this project's measured settings (bench:turns). stock: what agents-js 1.9 and LiveKit's examples give, to compare. */
  TURN_PRESET: z.enum(['tuned', 'stock'], { error: 'must be tuned or stock' }).default('tuned'),
  TURN_DETECTION: z.enum(['model', 'vad', 'stt'], { error: 'must be model, vad or stt' }).default('model'),
  /** Silence before the VAD ends speech; the audio end-of-turn model needs at least 250. */
  VAD_MIN_SILENCE_MS: z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(250, { error: 'must be at least 250 (the end-of-turn model needs 250 ms of silence)' }).max(5_000).default(300),
  ENDPOINTING_MIN_DELAY_MS: positiveMs(500),
  ENDPOINTING_MAX_DELAY_MS: positiveMs(2000),
  /** fixed: the delays above. dynamic: agents learns the min delay from this user's pauses (max stays the ceiling). */
  ENDPOINTING_MODE: z.enum(['fixed', 'dynamic'], { error: 'must be fixed or dynamic' }).default('fixed'),
  PREEMPTIVE_GENERATION: bool.default(true),
  /** Also synthesise the preemptive reply's first audio before the turn is confirmed. */
  PREEMPTIVE_TTS: bool.default(true),
  /** Keep the LLM's and TTS's HTTP connections open while the user speaks (connection-warmer.ts). */
  WARM_CONNECTIONS: bool.default(true),
  /** Preemptive replies started per user turn (agents' maxRetries, default 3): one per final transcript. */
  PREEMPTIVE_MAX_PER_TURN: z.coerce.number({ error: 'must be a whole number' }).int().min(1, { error: 'must be at least 1' }).max(50).default(10),
  ALLOW_INTERRUPTIONS: bool.default(true),
  /** Speech over the avatar at least this long is a barge-in (shorter: a cough, and the reply goes on). */
  INTERRUPTION_MIN_DURATION_MS: positiveMs(500),
  /** Pause the avatar as soon as the user's voice starts over it; resume if it ends short of the minimum (pause-at-speech-onset.ts). */
  INTERRUPTION_PAUSE_AT_ONSET: bool.default(true),
  /** vad: any speech over the avatar interrupts it (local). adaptive: LiveKit Cloud's model tells barge-in from backchannel. */
  INTERRUPTION_MODE: z.enum(['vad', 'adaptive'], { error: 'must be vad or adaptive' }).default('vad'),

  // Provider calls: how long one may take and how often it is retried before the turn is given up.
  PROVIDER_TIMEOUT_MS: z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(500).max(60_000).default(10_000),
  PROVIDER_MAX_RETRIES: z.coerce.number({ error: 'must be a whole number' }).int().min(0).max(10).default(2),

  // Operations: the latency budget a turn is checked against, Prometheus /metrics, graceful drain.
  LATENCY_BUDGET_MS: z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(1).max(60_000).default(1000),
  METRICS_PORT: z.coerce.number({ error: 'must be a port number (0 disables /metrics)' }).int().min(0).max(65_535).default(9464),
  DRAIN_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int()
    .min(10_000, { error: 'must be at least 10000 (it is in milliseconds: 1800000 is 30 minutes)' })
    .max(86_400_000, { error: 'must be at most 86400000 (24 hours)' })
    .default(1_800_000),
  /** The agents health server (`/` 200, or 503 while LiveKit is unreachable; `/worker`). Unset: 8081 in production, any free port in dev. */
  HEALTH_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(1).max(65_535).optional(),
  HEALTH_HOST: z.string().min(1).default('0.0.0.0'),
  /** Job processes kept started and warm (VAD loaded, built-in face drawn) for the next calls. Unset: min(cores, 4) in production, 1 under `npm run dev`, none under `dev` alone. */
  WORKER_IDLE_PROCESSES: z.coerce.number({ error: 'must be a whole number from 1 to 32' }).int().min(1).max(32).optional(),
  /** LiveKit stops sending jobs to this worker at this load (0..1); unset: 0.7 in production (`start`), never in dev. */
  WORKER_LOAD_THRESHOLD: z.coerce.number({ error: 'must be a number between 0.05 and 1' }).min(0.05).max(1).optional(),
  /** Conversations with a locally rendered avatar this worker carries at full load (0: 2 per CPU core). */
  WORKER_MAX_AVATAR_RENDERS: z.coerce.number({ error: 'must be a whole number (0: derived from the CPU cores)' }).int().min(0).max(10_000).default(0),
  // Per conversation (job process): a warning above the first, the job is ended above the second (0: no limit).
  JOB_MEMORY_WARN_MB: z.coerce.number({ error: 'must be a number of megabytes' }).int().min(100).max(65_536).default(1500),
  JOB_MEMORY_LIMIT_MB: z.coerce.number({ error: 'must be a number of megabytes (0: no limit)' }).int().min(0).max(65_536).default(0),
  /** A call whose job heap or external memory grows faster than this (MB per hour, fitted after its first minute) is logged as a warning naming the slope; 0: never. */
  JOB_MEMORY_GROWTH_WARN_MB_PER_HOUR: z.coerce.number({ error: 'must be a number of megabytes per hour (0: no warning)' }).min(0).max(100_000).default(60),

  // Avatar
  AVATAR: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'must name a folder under avatars/ (lowercase letters, digits, - or _)' }).default('default'),
  AVATARS_DIR: z.string().min(1).default('avatars'),
  // Avatar providers' API keys (only the provider a profile names is needed)
  TAVUS_API_KEY: z.string().min(1).optional(),
  LIVEAVATAR_API_KEY: z.string().min(1).optional(),
  BEY_API_KEY: z.string().min(1).optional(),
  ANAM_API_KEY: z.string().min(1).optional(),
  LEMONSLICE_API_KEY: z.string().min(1).optional(),
  SIMLI_API_KEY: z.string().min(1).optional(),
  DID_API_KEY: z.string().min(1).optional(),
  RUNWAYML_API_SECRET: z.string().min(1).optional(),
  SYNTHESIA_API_KEY: z.string().min(1).optional(),
  TRUGEN_API_KEY: z.string().min(1).optional(),
  KEYFRAME_API_KEY: z.string().min(1).optional(),
  AVATARIO_API_KEY: z.string().min(1).optional(),
  PROTOFACE_API_KEY: z.string().min(1).optional(),
  BITHUMAN_API_SECRET: z.string().min(1).optional(),
  AVATARTALK_API_KEY: z.string().min(1).optional(),
  /** Shared secret for `selfhosted` avatars: the worker sends it to the avatar runner's /launch. */
  AVATAR_LAUNCH_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  /** Bearer secret the worker presents to a self-hosted GPU renderer (diffusion, splat). */
  AVATAR_RENDERER_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),

  // Web page and token endpoint (`npm run web`)
  /** The LiveKit URL as browsers reach it, when it differs from LIVEKIT_URL (e.g. wss://lk.example.com). */
  LIVEKIT_PUBLIC_URL: wsUrl.optional(),
  WEB_HOST: z.string().min(1).default('127.0.0.1'),
  WEB_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65_535).default(3000),
  WEB_TOKEN_TTL_SECONDS: z.coerce.number({ error: 'must be a number of seconds' }).int().min(60).max(86_400).default(900),
  WEB_SHARED_KEY: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  WEB_ALLOWED_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^\s/]+$/, { error: 'must be a comma-separated list of origins such as https://avatar.example.com (scheme and host, no path)' })))
    .optional(),
  WEB_RATE_LIMIT_PER_MINUTE: z.coerce.number({ error: 'must be a whole number' }).int().min(1).max(10_000).default(10),
  /** Reverse proxies whose X-Forwarded-For is believed (proxy-addr names, IPs or CIDRs); none when unset. */
  WEB_TRUST_PROXY: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(loopback|linklocal|uniquelocal|[0-9A-Fa-f:.]+(\/\d{1,3})?)$/, { error: 'must list your reverse proxies: loopback, uniquelocal, linklocal, or IP addresses / CIDR ranges, comma-separated (e.g. 10.0.0.0/8)' })))
    .optional(),

  // OpenTelemetry: agents' spans (turns, LLM, TTS) go to this OTLP/HTTP collector when set.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318' }).optional(),
  /** Read by the exporter itself (e.g. `api-key=...`); listed here so it is scrubbed from logs. */
  OTEL_EXPORTER_OTLP_HEADERS: z.string().min(1).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('voice-avatar-worker'),

  /** Unset: readable lines under `dev` (as the agents framework's own), JSON under `start` and the tools. */
  LOG_FORMAT: z.enum(['pretty', 'json'], { error: 'must be pretty or json' }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { error: 'must be one of fatal, error, warn, info, debug, trace' }).default('info'),
});

export type Env = z.infer<typeof envSchema>;

/** Names of the variables that carry secrets: never logged, never sent to a browser. */
export const SECRET_VARIABLES = [
  'LIVEKIT_API_SECRET',
  'STT_API_KEY',
  'DEEPGRAM_API_KEY',
  'LLM_API_KEY',
  'OPENAI_API_KEY',
  'TTS_API_KEY',
  'ELEVENLABS_API_KEY',
  'WEB_SHARED_KEY',
  'TAVUS_API_KEY',
  'LIVEAVATAR_API_KEY',
  'BEY_API_KEY',
  'ANAM_API_KEY',
  'LEMONSLICE_API_KEY',
  'SIMLI_API_KEY',
  'DID_API_KEY',
  'RUNWAYML_API_SECRET',
  'SYNTHESIA_API_KEY',
  'TRUGEN_API_KEY',
  'KEYFRAME_API_KEY',
  'AVATARIO_API_KEY',
  'PROTOFACE_API_KEY',
  'BITHUMAN_API_SECRET',
  'AVATARTALK_API_KEY',
  'AVATAR_LAUNCH_SECRET',
  'AVATAR_RENDERER_SECRET',
  'OTEL_EXPORTER_OTLP_HEADERS',
] as const satisfies readonly (keyof Env)[];

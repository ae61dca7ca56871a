import { ConfigError } from '../config/config.js';
import { EMPTY_IS_A_VALUE, envSchema, SECRET_VARIABLES } from '../config/env.js';

/** What the web server needs, and nothing of the worker's (no STT/LLM/TTS keys required). */
export interface WebConfig {
  livekit: {
    /** Where browsers connect: LIVEKIT_PUBLIC_URL, else LIVEKIT_URL. */
    publicUrl: string;
    apiKey: string;
    apiSecret: string;
    /** Explicit dispatch when set; unset means the worker is dispatched automatically to every room. */
    agentName?: string;
  };
  host: string;
  port: number;
  tokenTtlSeconds: number;
  protection: { sharedKey?: string; allowedOrigins: string[] };
  rateLimitPerMinute: number;
  /** Reverse proxies whose X-Forwarded-For is believed (proxy-addr syntax); empty: none. */
  trustedProxies: string[];
  logLevel: string;
  /** Values that must never appear in a log line or a response. */
  secrets: string[];
}

const webEnvSchema = envSchema.pick({
  LIVEKIT_URL: true,
  LIVEKIT_PUBLIC_URL: true,
  LIVEKIT_API_KEY: true,
  LIVEKIT_API_SECRET: true,
  LIVEKIT_AGENT_NAME: true,
  WEB_HOST: true,
  WEB_PORT: true,
  WEB_TOKEN_TTL_SECONDS: true,
  WEB_SHARED_KEY: true,
  WEB_ALLOWED_ORIGINS: true,
  WEB_RATE_LIMIT_PER_MINUTE: true,
  WEB_TRUST_PROXY: true,
  LOG_LEVEL: true,
});

export function loadWebConfig(source: NodeJS.ProcessEnv = process.env): WebConfig {
  // As for the worker (src/config/config.ts): only our variables, and empty means "not set".
  const known: Record<string, string | undefined> = {};
  for (const key of Object.keys(webEnvSchema.shape)) {
    const value = source[key];
    known[key] = value === '' && !EMPTY_IS_A_VALUE.has(key) ? undefined : value;
  }
  const parsed = webEnvSchema.safeParse(known);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const secret = (SECRET_VARIABLES as readonly string[]).includes(variable);
    const raw = known[variable];
    const shown = raw === undefined ? 'not set' : secret ? 'set' : JSON.stringify(raw);
    throw new ConfigError(variable, `${variable} ${issue.message} (got ${shown}); fix it in the environment or .env, see .env.example`);
  }
  const env = parsed.data;
  return {
    livekit: {
      publicUrl: env.LIVEKIT_PUBLIC_URL ?? env.LIVEKIT_URL,
      apiKey: env.LIVEKIT_API_KEY,
      apiSecret: env.LIVEKIT_API_SECRET,
      ...(env.LIVEKIT_AGENT_NAME ? { agentName: env.LIVEKIT_AGENT_NAME } : {}),
    },
    host: env.WEB_HOST,
    port: env.WEB_PORT,
    tokenTtlSeconds: env.WEB_TOKEN_TTL_SECONDS,
    protection: {
      ...(env.WEB_SHARED_KEY ? { sharedKey: env.WEB_SHARED_KEY } : {}),
      allowedOrigins: env.WEB_ALLOWED_ORIGINS ?? [],
    },
    rateLimitPerMinute: env.WEB_RATE_LIMIT_PER_MINUTE,
    trustedProxies: env.WEB_TRUST_PROXY ?? [],
    logLevel: env.LOG_LEVEL,
    secrets: [env.LIVEKIT_API_SECRET, env.WEB_SHARED_KEY].filter((v): v is string => !!v),
  };
}

/** Open to anyone who can reach it: fine on loopback, worth a warning anywhere else. */
export function isUnprotectedPublic(config: WebConfig): boolean {
  const loopback = config.host === '127.0.0.1' || config.host === '::1' || config.host === 'localhost';
  return !loopback && !config.protection.sharedKey && config.protection.allowedOrigins.length === 0;
}

import { z } from 'zod';
import { ConfigError } from '../../config/config.js';
import { envSchema } from '../../config/env.js';

/**
 * The avatar runner's settings (`npm run avatar-runner`): a service on a host that renders avatars
 * (a GPU box, or any machine for the builtin face). It needs none of the worker's keys; the
 * shared variables (AVATAR, AVATARS_DIR, LOG_LEVEL) mean what they mean for the worker.
 */
export const runnerEnvSchema = z.object({
  AVATAR_RUNNER_HOST: z.string().min(1).default('127.0.0.1'),
  AVATAR_RUNNER_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65_535).default(8089),
  /** The bearer secret every POST /launch must carry; the worker sends the same value (its AVATAR_LAUNCH_SECRET). */
  AVATAR_LAUNCH_SECRET: z
    .string({ error: 'is required: the shared secret the worker sends to POST /launch (the same value as the worker\'s AVATAR_LAUNCH_SECRET; e.g. openssl rand -hex 32)' })
    .min(16, { error: 'must be at least 16 characters (e.g. openssl rand -hex 32)' }),
  AVATAR: envSchema.shape.AVATAR,
  AVATARS_DIR: envSchema.shape.AVATARS_DIR,
  /** Join rooms here instead of the URL in each launch request (when the worker's URL is not this host's route to LiveKit). */
  LIVEKIT_URL: z
    .string()
    .regex(/^(wss?|https?):\/\/[^\s]+$/, { error: 'must be a ws://, wss://, http:// or https:// URL, e.g. ws://livekit:7880' })
    .optional(),
  /** For a renderer-protocol profile (diffusion, splat): the bearer secret of your GPU renderer. */
  AVATAR_RENDERER_SECRET: envSchema.shape.AVATAR_RENDERER_SECRET,
  AVATAR_RUNNER_MAX_SESSIONS: z.coerce.number({ error: 'must be a whole number' }).int().min(1).max(256).default(4),
  LOG_LEVEL: envSchema.shape.LOG_LEVEL,
});

export interface RunnerConfig {
  host: string;
  port: number;
  launchSecret: string;
  avatar: string;
  avatarsDir: string;
  livekitUrlOverride?: string;
  maxSessions: number;
  /** AVATAR_RENDERER_SECRET, for renderer-protocol profiles. */
  rendererSecret?: string;
  logLevel: string;
  /** Values that must never appear in a log line or a response. */
  secrets: string[];
}

const SECRETS = new Set(['AVATAR_LAUNCH_SECRET', 'AVATAR_RENDERER_SECRET']);

export function loadRunnerConfig(source: NodeJS.ProcessEnv = process.env): RunnerConfig {
  // As for the worker: only our variables, and an empty value means "not set".
  const known: Record<string, string | undefined> = {};
  for (const key of Object.keys(runnerEnvSchema.shape)) known[key] = source[key] === '' ? undefined : source[key];
  const parsed = runnerEnvSchema.safeParse(known);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const raw = known[variable];
    const shown = raw === undefined ? 'not set' : SECRETS.has(variable) ? 'set' : JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);
    throw new ConfigError(variable, `${variable} ${issue.message} (got ${shown}); fix it in the avatar runner's environment or .env`);
  }
  const env = parsed.data;
  return {
    host: env.AVATAR_RUNNER_HOST,
    port: env.AVATAR_RUNNER_PORT,
    launchSecret: env.AVATAR_LAUNCH_SECRET,
    avatar: env.AVATAR,
    avatarsDir: env.AVATARS_DIR,
    ...(env.LIVEKIT_URL ? { livekitUrlOverride: env.LIVEKIT_URL } : {}),
    maxSessions: env.AVATAR_RUNNER_MAX_SESSIONS,
    ...(env.AVATAR_RENDERER_SECRET ? { rendererSecret: env.AVATAR_RENDERER_SECRET } : {}),
    logLevel: env.LOG_LEVEL,
    secrets: [env.AVATAR_LAUNCH_SECRET, ...(env.AVATAR_RENDERER_SECRET ? [env.AVATAR_RENDERER_SECRET] : [])],
  };
}

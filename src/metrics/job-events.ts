import { z } from 'zod';

/**
 * What a job process tells the main process about its conversation, one JSON object per line
 * over the metrics hub's Unix socket (see metrics-hub.ts). Internal to one worker: both ends are
 * the same build, so this is versioned only by the code.
 */

/**
 * The environment variable through which the main process hands the hub's socket path to the job
 * processes it forks (they inherit its environment). Not a setting: the main process sets it;
 * absent, a job reports nothing.
 */
export const METRICS_SOCKET_ENV = 'VOICE_AVATAR_METRICS_SOCKET';

const turnTimingsSchema = z.object({
  endOfSpeechAt: z.number(),
  transcriptMs: z.number().optional(),
  llmFirstTokenMs: z.number().optional(),
  ttsFirstAudioMs: z.number().optional(),
  firstAvatarFrameMs: z.number(),
});

export const jobEventSchema = z.discriminatedUnion('type', [
  /** First line of every connection: this connection is one running job (the active-jobs gauge). */
  z.object({ type: z.literal('job'), jobId: z.string().max(200) }),
  z.object({ type: z.literal('turn'), turn: turnTimingsSchema, budgetMs: z.number().int().min(1) }),
  z.object({ type: z.literal('avatar_fallback'), profile: z.string().max(200), reason: z.string().max(2000) }),
  /**
   * The avatar now showing in this job (at start and after each fallback): what it costs this
   * worker (`rendersLocally`: the worker draws or decodes and encodes video itself) and, for one
   * that joins or connects, how long that took.
   */
  z.object({
    type: z.literal('avatar'),
    adapter: z.string().max(40),
    rendersLocally: z.boolean(),
    joinMs: z.number().min(0).max(600_000).optional(),
  }),
  /** Frames of a received-video avatar (GPU renderer, Unreal) since the last report. */
  z.object({
    type: z.literal('avatar_frames'),
    adapter: z.string().max(40),
    shown: z.number().int().min(0).max(1_000_000),
    dropped: z.number().int().min(0).max(1_000_000),
    repeated: z.number().int().min(0).max(1_000_000),
  }),
  /** The job process's memory now (see job-memory.ts): one gauge series per conversation. */
  z.object({
    type: z.literal('memory'),
    heapBytes: z.number().int().min(0).max(2 ** 45),
    externalBytes: z.number().int().min(0).max(2 ** 45),
    rssBytes: z.number().int().min(0).max(2 ** 45),
  }),
]);

export type JobEvent = z.infer<typeof jobEventSchema>;

/** Lines longer than this are dropped (and the connection with them): nothing we send comes close. */
export const MAX_EVENT_LINE = 16 * 1024;

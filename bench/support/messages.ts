/** What the load benches' parents and children (their worker processes) send each other. */
import { z } from 'zod';

const memory = z.object({ rssMb: z.number(), heapMb: z.number(), externalMb: z.number() });

/** A turn's timings as TurnTimings has them (ms after the end of the user's speech). */
export const turnTimings = z.object({
  endOfSpeechAt: z.number(),
  transcriptMs: z.number().optional(),
  llmFirstTokenMs: z.number().optional(),
  ttsFirstAudioMs: z.number().optional(),
  firstAvatarFrameMs: z.number(),
});

export const frameCounts = z.object({ ticks: z.number(), frames: z.number(), dropped: z.number(), late: z.number(), worstLateMs: z.number() });

/** builtin: the worker renders the face and hands the frames to WebRTC; client: the viewer draws it, the worker sends voice only. */
export const avatarKind = z.enum(['builtin', 'client']);
export type AvatarKind = z.infer<typeof avatarKind>;

export const concurrencyInput = z.object({
  conversations: z.number().int().min(1),
  kind: avatarKind.default('builtin'),
  turns: z.number().int().min(1),
  env: z.record(z.string(), z.string()),
});
export type ConcurrencyInput = z.infer<typeof concurrencyInput>;

export const concurrencyResult = z.object({
  conversations: z.number(),
  turns: z.array(turnTimings),
  failedTurns: z.number(),
  errors: z.number(),
  wallMs: z.number(),
  cpuMs: z.number(),
  eventLoopP99Ms: z.number(),
  eventLoopMaxMs: z.number(),
  frames: frameCounts,
  peakRssMb: z.number(),
  /** After a full GC, before the first conversation started (VAD loaded, code warm). */
  baseline: memory,
  /** After a full GC, with all N conversations still open. */
  settled: memory,
});
export type ConcurrencyResult = z.infer<typeof concurrencyResult>;

export const soakInput = z.object({
  minutes: z.number().positive(),
  turnsPerConversation: z.number().int().min(1),
  /** One VAD for the whole run (shows silero's stream leak) instead of one per conversation, as job processes have. */
  sharedVad: z.boolean(),
  env: z.record(z.string(), z.string()),
});
export type SoakInput = z.infer<typeof soakInput>;

/** Sent after each conversation has closed and a full GC ran. */
export const soakSample = z.object({
  conversation: z.number().int(),
  /** Minutes since the soak started. */
  atMin: z.number(),
  memory,
  endToEndMs: z.array(z.number()),
  failedTurns: z.number(),
  frames: frameCounts,
});
export type SoakSample = z.infer<typeof soakSample>;

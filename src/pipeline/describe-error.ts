import type { voice } from '@livekit/agents';

const STAGE: Record<string, string> = { stt_error: 'speech-to-text', llm_error: 'language model', tts_error: 'text-to-speech' };

/**
 * One readable line for a pipeline error event: which stage, which provider, what went wrong,
 * e.g. "language model (openai.LLM) failed: 500 Internal Server Error; retries exhausted".
 * Provider errors often wrap the useful message one level down (`cause`).
 */
export function describePipelineError(ev: voice.ErrorEvent): string {
  const e = ev.error as { type?: string; label?: string; error?: unknown; recoverable?: boolean };
  const stage = STAGE[e.type ?? ''] ?? e.type ?? 'pipeline';
  const inner = e.error instanceof Error ? e.error : undefined;
  const cause = inner?.cause instanceof Error ? inner.cause.message : undefined;
  const what = [inner?.message, cause && cause !== inner?.message ? cause : undefined].filter(Boolean).join(': ') || String(e.error ?? ev.error);
  return `${stage}${e.label ? ` (${e.label})` : ''} failed: ${what}${e.recoverable ? '; retrying' : ''}`;
}

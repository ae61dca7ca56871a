import type { Config } from '../config/config.js';
import { OPENAI_BASE_URL } from './providers.js';

/**
 * Keeps the HTTP connections a turn will use open while the user is speaking, so the LLM request
 * and the first TTS request of the reply do not each start with a TCP and TLS handshake.
 *
 * Why it is needed: the LLM (openai SDK) and the OpenAI-compatible TTS and STT go through Node's
 * fetch, whose pool closes a connection after 4 s idle. Between two turns the agent speaks and the
 * user thinks, so nearly every turn found its connections closed and paid the handshake (two round
 * trips to the provider, ~50-200 ms from a cloud region, more across an ocean) on the LLM's first
 * token and again on the TTS's first byte, both on the critical path. agents' own LLM prewarm runs
 * once, when the session starts.
 *
 * What it does: on the user's first word it sends one cheap GET (`/models`, what agents' own
 * prewarm calls) per connection the reply will need, again every REFRESH_MS while they speak, and
 * once more when they stop, so a connection is never more than a few seconds idle when the
 * transcript arrives. Errors are ignored: a warm-up is a hint, never a failure of the turn.
 */
export interface WarmTarget {
  /** What the warm-up GETs; only its origin matters to the pool. */
  url: string;
  headers: Record<string, string>;
}

/** Below fetch's 4 s keep-alive, with room for a busy event loop. */
export const REFRESH_MS = 2_500;
/** At the end of speech, warm again unless the last warm-up is this recent. */
const FRESH_MS = 1_000;

type Fetch = (url: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal }) => Promise<{ arrayBuffer(): Promise<ArrayBuffer> }>;

export class ConnectionWarmer {
  private timer: NodeJS.Timeout | undefined;
  private lastWarmAt = 0;
  private readonly abort = new AbortController();
  /** Warm-ups sent, for tests and logs. */
  sent = 0;

  constructor(
    private readonly targets: readonly WarmTarget[],
    private readonly fetchImpl: Fetch = globalThis.fetch as unknown as Fetch,
  ) {}

  userStartedSpeaking(): void {
    if (this.timer || this.abort.signal.aborted) return;
    this.warm();
    this.timer = setInterval(() => this.warm(), REFRESH_MS);
    this.timer.unref();
  }

  userStoppedSpeaking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.abort.signal.aborted && Date.now() - this.lastWarmAt > FRESH_MS) this.warm();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
  }

  private warm(): void {
    this.lastWarmAt = Date.now();
    // All at once: two targets on one origin (LLM and TTS on api.openai.com) need two connections,
    // because the LLM's stream is still open when the TTS is asked for the first clause.
    for (const target of this.targets) {
      this.sent++;
      // The body is read so the connection goes back to the pool.
      void this.fetchImpl(target.url, { method: 'GET', headers: target.headers, signal: this.abort.signal })
        .then((res) => res.arrayBuffer())
        .catch(() => undefined);
    }
  }
}

/** The HTTP connections a turn uses, from config: WebSocket providers (Deepgram, ElevenLabs) keep their own. */
export function warmTargets(config: Pick<Config, 'llm' | 'tts' | 'stt'>): WarmTarget[] {
  const openaiCompatible = (baseUrl: string | undefined, apiKey: string): WarmTarget => ({
    url: `${(baseUrl ?? OPENAI_BASE_URL).replace(/\/+$/, '')}/models`,
    headers: { Authorization: `Bearer ${apiKey}` },
  });
  const targets = [openaiCompatible(config.llm.baseUrl, config.llm.apiKey)];
  if (config.tts.provider === 'openai') targets.push(openaiCompatible(config.tts.baseUrl, config.tts.apiKey));
  // The transcriptions endpoint is called once per utterance, when the user stops.
  if (config.stt.provider === 'openai') targets.push(openaiCompatible(config.stt.baseUrl, config.stt.apiKey));
  return targets;
}

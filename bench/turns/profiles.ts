/**
 * Provider latency profiles for the turn-taking bench: what the providers' own chain costs, drawn
 * per turn from a distribution (log-normal, fitted to a median and a p95), never a constant. The
 * fakes are told to add exactly the drawn figures, so the bench knows, turn by turn, how much of
 * the wait was the providers' and how much was ours.
 *
 * The figures are inputs, not measurements of ours; each says where it came from (collected in
 * ../shared/notes/turn-taking-agents-1.9.md §6 unless said otherwise):
 *
 * cloud  (Deepgram nova-3 → gpt-4.1-mini → ElevenLabs Flash v2.5 / OpenAI TTS)
 *   - STT final after the end of speech: Deepgram says streaming transcripts arrive in "300
 *     milliseconds or less" (developers.deepgram.com/docs/measuring-streaming-latency); with the
 *     plugin's endpointing=25 the final follows the pause: median 250, p95 450.
 *   - LLM time to first token: Artificial Analysis gives 0.93 s for GPT-4.1 mini on a 10k-token
 *     workload (artificialanalysis.ai/models/gpt-4-1-mini/providers); router telemetry for
 *     gpt-4o-mini p50 716 / p95 4091 ms (newmen.ai). A voice prompt is short: median 700, p95 1500.
 *     Output 77 tokens/s (Artificial Analysis, OpenAI endpoint): 13 ms a token.
 *   - TTS first audio: Coval's benchmark (2026-05-04) P50 time to first audio ElevenLabs Flash
 *     v2.5 288 ms, IQR 28 ms (gradium.ai/content/tts-latency-benchmark-2026): median 290, p95 400.
 * fast   (Deepgram nova-3 → Groq Llama 3.3 70B → Cartesia Sonic-3)
 *   - STT as cloud, at the low end of Deepgram's figure: median 200, p95 350.
 *   - LLM: Groq Llama 3.3 70B median TTFT 120 ms, p95 280 ms (tokenmix.ai/blog/ai-api-latency-benchmark,
 *     April 2026); ~250 tokens/s: 4 ms a token.
 *   - TTS: Cartesia Sonic-3 P50 188 ms, IQR 100 ms (Coval, as above): median 190, p95 330.
 * local  (CPU Whisper → Ollama 8B → Kokoro, one machine)
 *   - STT: a whole-utterance Whisper (small/base, int8) after the VAD's end of speech; CPU figures
 *     vary by 10× with the model (large-v3-turbo takes 13.5 s on CPU: webkkk.net/Allob/voice-chat-
 *     experiments results.md, 2026-02-19). Small model estimate: median 600, p95 1100.
 *   - LLM: Ollama 8B dense on CPU, ~5 tokens/s generation (qwen3:8b, Ryzen 5800U: ideasfixer.
 *     blogspot.com, 2026-06-26), prompt eval of a short context: median 450, p95 900; 190 ms a token.
 *   - TTS: Kokoro-82M ONNX on CPU, time to first audio ~557 ms for a short text (ideasfixer.
 *     blogspot.com 2026-04-15): median 550, p95 800; ~30 characters/s, about 2× real time.
 *
 * How fast the TTS delivers audio after its first byte is not published for any of these; the
 * realtime factors below (audio seconds per second of generation) are assumptions.
 *
 * Opening a connection (connectMs, charged by the fake OpenAI on the first request of each new
 * connection): a TCP handshake is one round trip and a TLS 1.3 handshake one more (RFC 8446 §2), so
 * two round trips to the API's edge; ~50 ms a round trip from a cloud region on the same continent
 * is an assumption: 100 ms. The local profile's servers are on the same machine: 0.
 */

export type ProfileName = 'cloud' | 'fast' | 'local';
export const PROFILE_NAMES: readonly ProfileName[] = ['cloud', 'fast', 'local'];

export interface Spread {
  medianMs: number;
  p95Ms: number;
}

export interface LatencyProfile {
  name: ProfileName;
  /** End of speech → final transcript. */
  sttFinal: Spread;
  /** Request → first token. */
  llmTtft: Spread;
  /** Gap between streamed tokens (one word a token in the fake). */
  llmTokenMs: number;
  /** Request → first audio byte. */
  ttsTtfb: Spread;
  /** Audio seconds delivered per second after the first byte. */
  ttsRealtimeFactor: number;
  /** What a new HTTPS connection to the LLM or TTS costs before its first request (TCP + TLS). */
  connectMs: number;
}

export const PROFILES: Record<ProfileName, LatencyProfile> = {
  cloud: { name: 'cloud', sttFinal: { medianMs: 250, p95Ms: 450 }, llmTtft: { medianMs: 700, p95Ms: 1500 }, llmTokenMs: 13, ttsTtfb: { medianMs: 290, p95Ms: 400 }, ttsRealtimeFactor: 5, connectMs: 100 },
  fast: { name: 'fast', sttFinal: { medianMs: 200, p95Ms: 350 }, llmTtft: { medianMs: 120, p95Ms: 280 }, llmTokenMs: 4, ttsTtfb: { medianMs: 190, p95Ms: 330 }, ttsRealtimeFactor: 8, connectMs: 100 },
  local: { name: 'local', sttFinal: { medianMs: 600, p95Ms: 1100 }, llmTtft: { medianMs: 450, p95Ms: 900 }, llmTokenMs: 190, ttsTtfb: { medianMs: 550, p95Ms: 800 }, ttsRealtimeFactor: 2, connectMs: 0 },
};

/** One turn's draws: what the fakes add on this turn. */
export interface ChainDraw {
  sttFinalMs: number;
  llmTtftMs: number;
  ttsTtfbMs: number;
}

/** Seeded, so two runs (and the two configs of one run) see the same provider weather. */
export function drawer(profile: LatencyProfile, seed: number): () => ChainDraw {
  const random = mulberry32(seed);
  const normal = () => {
    // Box–Muller; 1 − u keeps the log away from 0.
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const logNormal = (s: Spread) => Math.round(s.medianMs * Math.exp((Math.log(s.p95Ms / s.medianMs) / 1.645) * normal()));
  return () => ({ sttFinalMs: logNormal(profile.sttFinal), llmTtftMs: logNormal(profile.llmTtft), ttsTtfbMs: logNormal(profile.ttsTtfb) });
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import { stt, tokenize, tts, type llm, type VAD } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import type { LlmConfig, SttConfig, TtsConfig } from '../config/config.js';
import { ClauseFirstTokenizer } from './clause-tokenizer.js';
import { ResilientStt } from './resilient-stt.js';
import { StreamingSpeechTTS } from './streaming-speech-tts.js';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** Builds the STT, LLM and TTS the config names. One function a stage, nothing else. */

/**
 * agents 1.9.0 wraps a non-streaming STT or TTS in a StreamAdapter inside every turn, and that
 * adapter re-emits the provider's `error` events with no listener of its own: Node then throws
 * ERR_UNHANDLED_ERROR and a provider's 500 takes the process down. Wrapping once here, where the
 * session subscribes to the adapter itself, keeps the error a reported, survivable event.
 */
export function buildStt(config: SttConfig, vad: VAD): stt.STT {
  switch (config.provider) {
    case 'deepgram':
      // The plugin's stream goes deaf, without an error, when its socket drops; see resilient-stt.ts.
      return new ResilientStt(
        new deepgram.STT({
          apiKey: config.apiKey,
          model: config.model,
          language: config.language,
          interimResults: true,
          // The turn detector decides when the user is done; Deepgram's own endpointing only has to
          // finalise transcripts quickly.
          endpointing: 25,
          ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}),
        }),
      );
    case 'openai':
      // The transcriptions endpoint (not the realtime socket) is the one every OpenAI-compatible
      // server implements: Speaches, faster-whisper-server, vLLM, Groq. AgentSession wraps it with
      // the VAD to make it streaming.
      return new stt.StreamAdapter(
        new openai.STT({
          apiKey: config.apiKey,
          model: config.model,
          language: config.language,
          useRealtime: false,
          ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
        }),
        vad,
      );
  }
}

export function buildLlm(config: LlmConfig): llm.LLM {
  return new openai.LLM({
    apiKey: config.apiKey,
    model: config.model,
    ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
  });
}

export function buildTts(config: TtsConfig, preset: 'tuned' | 'stock' = 'tuned'): tts.TTS {
  switch (config.provider) {
    case 'openai':
      if (preset === 'tuned') {
        // One request per clause or sentence, each read as it streams in (see streaming-speech-tts.ts),
        // the first released at the reply's first clause (see clause-tokenizer.ts).
        return new tts.StreamAdapter(
          new StreamingSpeechTTS({ apiKey: config.apiKey, baseUrl: config.baseUrl ?? OPENAI_BASE_URL, model: config.model, voice: config.voice }),
          new ClauseFirstTokenizer(),
        );
      }
      // Stock: the plugin, one request per sentence, each awaited whole (what agents does by itself).
      return new tts.StreamAdapter(
        new openai.TTS({
          apiKey: config.apiKey,
          model: config.model,
          // Self-hosted servers have their own voice names (Kokoro: af_heart, ...).
          voice: config.voice as openai.TTSVoices,
          ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
        }),
        new tokenize.basic.SentenceTokenizer(),
      );
    case 'elevenlabs':
      return new elevenlabs.TTS({
        apiKey: config.apiKey,
        model: config.model,
        voiceId: config.voice,
        ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
      });
  }
}

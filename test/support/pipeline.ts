import { initializeLogger, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import type { VAD } from '@livekit/agents';
import { MemoryMediaSink } from '../../src/avatar/local/memory-sink.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging.js';
import type { TurnTimings } from '../../src/metrics/turn-timeline.js';
import { startOfflineSession, type OfflineSession } from '../../src/offline/offline-session.js';
import { describePipelineError } from '../../src/pipeline/describe-error.js';
import { startFakeDeepgram, type FakeDeepgram } from '../fakes/deepgram.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../fakes/elevenlabs.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../fakes/openai.js';
import { speechWithSilence } from '../fakes/speech.js';
import { withTimeout } from '../fakes/wait.js';

let vad: Promise<VAD> | undefined;
/** One VAD per test file: loading it is the slow part of starting a session. */
export function sharedVad(): Promise<VAD> {
  // Every session on it adds a metrics listener; here many sessions share one VAD (a job has one
  // session a process), so Node's leak warning at 11 listeners would be a false alarm.
  return (vad ??= silero.VAD.load().then((loaded) => loaded.setMaxListeners(0)));
}

/** A reply long enough to talk over: ~12 s of speech. */
export const LONG_REPLY =
  'Let me walk you through it. First, open the bookings page and choose the restaurant. Then pick the day and the time you want, and the number of guests. Finally, press confirm and you will get an email.';

export interface PipelineOptions {
  stt?: 'deepgram' | 'openai';
  tts?: 'openai' | 'elevenlabs';
  /** What the user says in each utterance (the STT fakes' script). */
  transcripts: string[];
  reply?: FakeOpenAIOptions['reply'];
  env?: Record<string, string>;
  /** Another VAD than the file's shared one (other options). */
  vad?: VAD;
}

export interface Pipeline {
  offline: OfflineSession;
  sink: MemoryMediaSink;
  openai: FakeOpenAI;
  deepgram: FakeDeepgram;
  elevenlabs: FakeElevenLabs;
  errors: string[];
  /** Speak `text` (espeak-ng) into the microphone; resolves when it has been played. */
  say(text: string, opts?: { trailMs?: number }): Promise<void>;
  /** The next completed turn (first avatar frame of the reply). */
  nextTurn(ms?: number): Promise<TurnTimings>;
  /** Resolves when the agent stops speaking (reply finished or interrupted). */
  replyDone(ms?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole pipeline as `converse` runs it, with every cloud service replaced by its fake on
 * loopback and the real plugins talking to them; the built-in avatar renders into memory.
 */
export async function startPipeline(opts: PipelineOptions): Promise<Pipeline> {
  initializeLogger({ pretty: false, level: 'error' });
  const deepgram = await startFakeDeepgram({ transcripts: [...opts.transcripts] });
  const openai = await startFakeOpenAI({ transcripts: [...opts.transcripts], ...(opts.reply ? { reply: opts.reply } : {}) });
  const elevenlabs = await startFakeElevenLabs({});
  const config = loadConfig({
    DEEPGRAM_API_KEY: 'dg-test-key-123',
    OPENAI_API_KEY: 'sk-test-key-123',
    ELEVENLABS_API_KEY: 'el-test-key-123',
    STT_PROVIDER: opts.stt ?? 'deepgram',
    STT_BASE_URL: (opts.stt ?? 'deepgram') === 'deepgram' ? deepgram.baseUrl : openai.baseURL,
    LLM_BASE_URL: openai.baseURL,
    TTS_PROVIDER: opts.tts ?? 'openai',
    TTS_BASE_URL: (opts.tts ?? 'openai') === 'openai' ? openai.baseURL : elevenlabs.baseURL,
    AGENT_GREETING: '',
    ENDPOINTING_MIN_DELAY_MS: '300',
    LOG_LEVEL: 'error',
    ...opts.env,
  });
  const sink = new MemoryMediaSink();
  const logger = createLogger({ level: 'error', secrets: config.secrets });
  const offline = await startOfflineSession({ config, sink, logger, vad: opts.vad ?? (await sharedVad()) });
  const errors: string[] = [];
  offline.session.on(voice.AgentSessionEventTypes.Error, (ev) => errors.push(describePipelineError(ev)));
  return {
    offline,
    sink,
    openai,
    deepgram,
    elevenlabs,
    errors,
    async say(text, o = {}) {
      const audio = await speechWithSilence(text, { sampleRate: 16000, leadMs: 200, trailMs: o.trailMs ?? 900 });
      await offline.input.play(audio.samples);
    },
    nextTurn(ms = 15_000) {
      return withTimeout(new Promise<TurnTimings>((resolve) => offline.timeline.once('turn', resolve)), ms, 'the avatar to start answering');
    },
    replyDone(ms = 20_000) {
      return withTimeout(
        new Promise<void>((resolve) => {
          const onState = (ev: voice.AgentStateChangedEvent) => {
            if (ev.oldState === 'speaking') {
              offline.session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
              resolve();
            }
          };
          offline.session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
        }),
        ms,
        'the reply to finish',
      );
    },
    async close() {
      await offline.close();
      await Promise.all([deepgram.close(), openai.close(), elevenlabs.close()]);
    },
  };
}

/** The conversation so far, as `role: text` lines. */
export function transcript(session: voice.AgentSession): { role: string; text: string; interrupted: boolean }[] {
  return session.history.items
    .filter((i) => i.type === 'message')
    .map((i) => {
      const m = i as unknown as { role: string; textContent?: string; interrupted?: boolean };
      return { role: m.role, text: m.textContent ?? '', interrupted: Boolean(m.interrupted) };
    });
}

import { inference, USERDATA_TIMED_TRANSCRIPT, voice, type llm, type VAD } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { TransformStream, type ReadableStream } from 'node:stream/web';
import type { Config } from '../config/config.js';
import type { TurnTimeline } from '../metrics/turn-timeline.js';
import { buildLlm, buildStt, buildTts } from './providers.js';
import { ConnectionWarmer, warmTargets } from './connection-warmer.js';
import { pauseAtSpeechOnset } from './pause-at-speech-onset.js';

/**
 * The agent: its instructions, plus taps on the LLM and TTS nodes that note, in wall-clock time,
 * the first token and the first audio of every reply for the turn's latency breakdown.
 */
export class ConversationAgent extends voice.Agent {
  constructor(
    config: Config,
    private readonly timeline?: TurnTimeline,
    /** Tools the avatar offers (e.g. an Unreal MetaHuman's emotions), beside the conversation's own. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    tools: Record<string, llm.AnonFunctionTool<any, any, any>> = {},
  ) {
    super({ instructions: config.agent.instructions, tools });
    this.historyMaxItems = config.agent.historyMaxItems;
  }

  private readonly historyMaxItems: number;

  override async llmNode(chatCtx: llm.ChatContext, toolCtx: llm.ToolContext, modelSettings: voice.ModelSettings) {
    // What the LLM reads is bounded (LLM_HISTORY_MAX_ITEMS); the session's own history is kept whole.
    const recent = chatCtx.items.length > this.historyMaxItems + 1 ? chatCtx.copy().truncate(this.historyMaxItems) : chatCtx;
    const stream = await voice.Agent.default.llmNode(this, recent, toolCtx, modelSettings);
    const timeline = this.timeline;
    return stream && timeline ? tapFirst(stream, () => timeline.markLlmFirstToken(Date.now()), hasText) : stream;
  }

  override async ttsNode(text: ReadableStream<string>, modelSettings: voice.ModelSettings): Promise<ReadableStream<AudioFrame> | null> {
    const stream = await voice.Agent.default.ttsNode(this, text, modelSettings);
    if (!stream) return stream;
    const spaced = stream.pipeThrough(spaceTimedSegments());
    const timeline = this.timeline;
    return timeline ? tapFirst(spaced, () => timeline.markTtsFirstAudio(Date.now())) : spaced;
  }
}

/**
 * agents' StreamAdapter tags each synthesised segment's first frame with the segment's text, and
 * the transcript (captions, chat history) is those texts concatenated: "Sure,"+"I can…" reads
 * "Sure,I can…". A segment that follows punctuation without a space gets one.
 */
function spaceTimedSegments(): TransformStream<AudioFrame, AudioFrame> {
  let last = '';
  return new TransformStream<AudioFrame, AudioFrame>({
    transform(frame, controller) {
      const timed = frame.userdata[USERDATA_TIMED_TRANSCRIPT] as voice.TimedString[] | undefined;
      for (const t of timed ?? []) {
        if (/[.,;:!?…]$/.test(last) && /^[\p{L}\p{N}]/u.test(t.text)) t.text = ` ${t.text}`;
        if (t.text) last = t.text;
      }
      controller.enqueue(frame);
    },
  });
}

/** Pass a stream through unchanged, calling `onFirst` when its first chunk goes by. */
function tapFirst<T>(stream: ReadableStream<T>, onFirst: () => void, counts: (chunk: T) => boolean = () => true): ReadableStream<T> {
  let seen = false;
  return stream.pipeThrough(
    new TransformStream<T, T>({
      transform(chunk, controller) {
        if (!seen && counts(chunk)) {
          seen = true;
          onFirst();
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

export interface SessionOverrides {
  /** Tests and the offline harness run without a job, so there is no shared inference process. */
  turnDetection?: 'model' | 'vad' | 'stt';
}

/**
 * VAD → turn detector → STT → LLM → TTS, from config. A provider that fails does not close the
 * session: the error is reported, the turn is lost, and the next turn tries again.
 *
 * TURN_PRESET=tuned (default) is this project's turn-taking, each setting measured with
 * `npm run bench:turns` (docs/latency.md): the reply is prepared (LLM and first audio) while the
 * turn detector is still deciding, so its wait hides behind the providers' own latency.
 * TURN_PRESET=stock is what a developer gets from LiveKit's examples with agents-js 1.9 defaults,
 * kept so the two can be compared in one run.
 */
export function buildSession(config: Config, vad: VAD, overrides: SessionOverrides = {}): voice.AgentSession {
  const detection = overrides.turnDetection ?? config.turn.detection;
  const turnDetection = detection === 'model' ? new inference.TurnDetector({ version: 'v1-mini' }) : detection;
  const stock = config.turn.preset === 'stock';
  const session = new voice.AgentSession({
    vad,
    stt: buildStt(config.stt, vad),
    llm: buildLlm(config.llm),
    tts: buildTts(config.tts, config.turn.preset),
    connOptions: {
      sttConnOptions: { timeoutMs: config.providers.timeoutMs, maxRetry: config.providers.maxRetries },
      llmConnOptions: { timeoutMs: config.providers.timeoutMs, maxRetry: config.providers.maxRetries },
      ttsConnOptions: { timeoutMs: config.providers.timeoutMs, maxRetry: config.providers.maxRetries },
      maxUnrecoverableErrors: Number.MAX_SAFE_INTEGER,
    },
    turnHandling: stock
      ? {
          // agent-starter-node: a turn detector, preemptive generation on (the default), the rest
          // left to agents' defaults (endpointing 300/2500 ms for an audio detector, barge-in after
          // 500 ms of speech, LLM-only preemption). The model is v1-mini, what agents runs without
          // LiveKit Cloud inference; interruption is 'vad', what `start` (production) gives.
          turnDetection,
          interruption: { enabled: config.turn.allowInterruptions, mode: 'vad' },
        }
      : {
          // The local audio end-of-turn model (v1-mini) runs offline in the worker's inference process.
          turnDetection,
          endpointing: { mode: config.turn.endpointingMode, minDelay: config.turn.minEndpointingDelayMs, maxDelay: config.turn.maxEndpointingDelayMs },
          // Always explicit (INTERRUPTION_MODE, vad by default). Left unset, agents 1.9 turns on its
          // "adaptive" interruption in dev mode (`npm run dev`), which streams the user's audio to
          // LiveKit Cloud's inference gateway (agent-gateway.livekit.cloud, signed with
          // LIVEKIT_API_KEY/SECRET): refused for a self-hosted server's keys, and while it retries,
          // barge-in by voice activity is suspended.
          interruption: { enabled: config.turn.allowInterruptions, mode: config.turn.interruptionMode, minDuration: config.turn.interruptionMinDurationMs },
          // One preemptive reply per final transcript; agents stops at 3 a turn, which a sentence with
          // three pauses (Deepgram finalises at each) uses up, and the reply is then asked for only
          // after the turn is committed.
          preemptiveGeneration: {
            enabled: config.turn.preemptiveGeneration,
            preemptiveTts: config.turn.preemptiveTts,
            maxRetries: config.turn.preemptiveMaxPerTurn,
          },
        },
  });
  if (!stock && config.turn.warmConnections) warmConnectionsWhileUserSpeaks(session, new ConnectionWarmer(warmTargets(config)));
  // agents' adaptive mode tells a backchannel from a barge-in with a model; pausing at every onset would pre-empt it.
  if (!stock && config.turn.pauseAtSpeechOnset && config.turn.allowInterruptions && config.turn.interruptionMode === 'vad') pauseAtSpeechOnset(session);
  return session;
}

function warmConnectionsWhileUserSpeaks(session: voice.AgentSession, warmer: ConnectionWarmer): void {
  session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
    if (ev.newState === 'speaking') warmer.userStartedSpeaking();
    else if (ev.oldState === 'speaking') warmer.userStoppedSpeaking();
  });
  session.on(voice.AgentSessionEventTypes.Close, () => warmer.close());
}

/**
 * The rate the user's microphone is read at. Silero, the end-of-turn model and Deepgram all run at
 * 16 kHz; agents' room input defaults to 24 kHz, so each of the three resampled every 10 ms frame
 * again on the job's one event loop (a synchronous call into rtc-node per frame each: 11 % of the
 * job's busy time in a CPU profile of bench:turns). Read at 16 kHz, rtc-node resamples once, off
 * the event loop, and the three pass the frames through. Stock keeps agents' default.
 */
export const TUNED_INPUT_SAMPLE_RATE = 16_000;

export function roomInputOptions(config: Config): { audioSampleRate?: number } {
  return config.turn.preset === 'stock' ? {} : { audioSampleRate: TUNED_INPUT_SAMPLE_RATE };
}

/** The VAD for a preset: tuned ends speech after VAD_MIN_SILENCE_MS; stock keeps Silero's 550 ms. */
export function vadOptions(config: Config): { minSilenceDuration?: number } {
  return config.turn.preset === 'stock' ? {} : { minSilenceDuration: config.turn.vadMinSilenceMs };
}

/** A role-only or tool-call chunk is not a token the user will hear. */
function hasText(chunk: unknown): boolean {
  if (typeof chunk === 'string') return chunk.length > 0;
  const content = (chunk as { delta?: { content?: string } } | null)?.delta?.content;
  return typeof content === 'string' && content.length > 0;
}

/**
 * Long calls must not keep what they have already processed. Each case pushes many seconds of
 * audio (or many turns) through one long-lived upstream object the way a call does, then counts
 * what survives a full GC while that object is still alive. Each guards one fix: a patch in
 * patches/ (applied by patch-package at install, production installs included) or one of ours.
 * Delete the patch and its case fails, which is also how to tell when upstream has fixed it and
 * the patch can go. The whole call is measured by bench/long-call.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadableStream } from 'node:stream/web';
import { initializeLogger, readStream, tts } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { startFakeDeepgram, type FakeDeepgram } from './fakes/deepgram.js';
import { startFakeElevenLabs, type FakeElevenLabs } from './fakes/elevenlabs.js';
import { TurnTimeline } from '../src/metrics/turn-timeline.js';
import { readUntil } from './fakes/wait.js';
import { startPipeline, type Pipeline } from './support/pipeline.js';
import { longestReactionList, Survivors } from './support/retained.js';

/** What the adaptive-interruption case reaches inside agents' AudioRecognition (not exported). */
interface InterruptionInternals {
  interruptionStreamChannel: { write(frame: AudioFrame): Promise<void>; close(): Promise<void> };
  createInterruptionTask(model: object, signal: AbortSignal): Promise<void>;
}

/** 10 ms of quiet noise at `rate` (not all zeros, so an energy filter cannot skip it). */
function frame(rate: number): AudioFrame {
  const n = rate / 100;
  const data = new Int16Array(n);
  for (let i = 0; i < n; i++) data[i] = (i % 7) - 3;
  return new AudioFrame(data, rate, 1, n);
}

/** Frames still in flight (queues, the 100 ms re-chunker) may survive; a leak keeps them all. */
const IN_FLIGHT = 50;
/** The longest reaction list may differ by a few from one idle moment to the next; a leak adds one or more a turn. */
const REACTIONS_NOISE = 4;

describe('memory over a long call: nothing keeps audio it has processed', () => {
  let dg: FakeDeepgram;
  let el: FakeElevenLabs;
  beforeAll(async () => {
    initializeLogger({ pretty: false, level: 'error' });
    dg = await startFakeDeepgram({ transcripts: () => 'hello', idleTimeoutMs: 0 });
    el = await startFakeElevenLabs({});
  });
  afterAll(async () => {
    await Promise.all([dg?.close(), el?.close()]);
  });

  // livekit/agents-js #1950; patches/@livekit+agents-plugin-deepgram+1.9.0.patch
  it('the Deepgram STT stream lets go of each frame once sent (20 s of audio through one stream)', async () => {
    const stt = new deepgram.STT({ apiKey: 'dg-leak-key', baseUrl: dg.baseUrl, interimResults: true });
    const stream = stt.stream();
    const drained = (async () => {
      for await (const _ of stream) void _;
    })();
    const survivors = new Survivors();
    for (let i = 0; i < 2000; i++) {
      stream.pushFrame(survivors.track(frame(16_000)));
      // The loop reads one frame per turn of the event loop, as it does with a live microphone.
      if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const left = await survivors.settle(IN_FLIGHT, 10_000);
    stream.close();
    await drained.catch(() => undefined);
    await stt.close();
    expect(left, `frames of ${survivors.tracked} still reachable while the stream is open`).toBeLessThanOrEqual(IN_FLIGHT);
  });

  // The agents core's readStream (voice/audio_recognition.ts feeds every microphone frame to the
  // STT and VAD through it); patches/@livekit+agents+1.9.0.patch
  it("agents' readStream lets go of each item once yielded (2000 frames, abort signal alive)", async () => {
    const controller = new AbortController();
    const survivors = new Survivors();
    let k = 0;
    const source = new ReadableStream<AudioFrame>({
      pull(c) {
        if (k++ < 2000) c.enqueue(survivors.track(frame(48_000)));
        else c.close();
      },
    });
    let read = 0;
    const reading = (async () => {
      for await (const f of readStream(source, controller.signal)) {
        read += f ? 1 : 0;
        if (read === 2000) break;
      }
    })();
    // Count while the reader is still inside the loop (its signal alive), as in a call.
    await new Promise<void>((resolve) => {
      const check = () => (read >= 1990 ? resolve() : setTimeout(check, 5));
      check();
    });
    const left = await survivors.settle(IN_FLIGHT, 5_000);
    controller.abort();
    await reading;
    expect(left, `frames of ${survivors.tracked} still reachable`).toBeLessThanOrEqual(IN_FLIGHT);
  });
  // INTERRUPTION_MODE=adaptive: agents' audio recognition forwards every microphone frame to the
  // interruption model's stream, racing each read against one never-settling waitForAbort(signal)
  // promise for the life of the session (voice/audio_recognition createInterruptionTask): the
  // livekit/agents-js #1950 pattern again. patches/@livekit+agents+1.9.0.patch.
  it("adaptive interruption's forwarding lets go of each frame once sent to the model (2000 frames, session alive)", async () => {
    // Not in agents' public exports: loaded by path, the same module instance the package uses.
    const dist = new URL('../node_modules/@livekit/agents/dist/', import.meta.url);
    const { AudioRecognition } = (await import(new URL('voice/audio_recognition.js', dist).href)) as { AudioRecognition: new (opts: object) => InterruptionInternals };
    const { createStreamChannel } = (await import(new URL('stream/stream_channel.js', dist).href)) as { createStreamChannel: () => InterruptionInternals['interruptionStreamChannel'] };
    const hooks = new Proxy({}, { get: (_t, name) => (name === 'onEndOfTurn' ? async () => true : () => undefined) });
    const recognition = new AudioRecognition({ recognitionHooks: hooks, minEndpointingDelay: 0, maxEndpointingDelay: 0 });
    recognition.interruptionStreamChannel = createStreamChannel();
    // The model's stream, as the gateway's would be: it takes every frame and, here, never reports
    // an overlap (no event), like a user who does not talk over the agent.
    let sent = 0;
    const model = {
      label: 'fake-interruption-model',
      emitError: () => undefined,
      createStream: () => ({
        stream: () => new ReadableStream<never>({}),
        pushFrame: async () => {
          sent++;
        },
        close: async () => undefined,
      }),
    };
    const controller = new AbortController();
    const survivors = new Survivors();
    const forwarding = recognition.createInterruptionTask(model, controller.signal);
    for (let i = 0; i < 2000; i++) await recognition.interruptionStreamChannel.write(survivors.track(frame(16_000)));
    await new Promise<void>((resolve) => {
      const check = () => (sent >= 1990 ? resolve() : setTimeout(check, 5));
      check();
    });
    const left = await survivors.settle(IN_FLIGHT, 5_000);
    controller.abort();
    await recognition.interruptionStreamChannel.close();
    await forwarding;
    expect(left, `frames of ${survivors.tracked} still reachable`).toBeLessThanOrEqual(IN_FLIGHT);
  });
  // The plugin adds every SynthesizeStream (one per agent turn) to a set it clears only when the
  // TTS closes, i.e. at the end of the call; patches/@livekit+agents-plugin-elevenlabs+1.9.0.patch
  it('the ElevenLabs TTS lets go of each turn\'s stream once it is closed (20 turns)', async () => {
    const voice = new elevenlabs.TTS({ apiKey: 'el-leak-key', baseURL: el.baseURL });
    const survivors = new Survivors();
    const frames = new Survivors();
    let lastTurnFrames = 0;
    for (let turn = 0; turn < 20; turn++) {
      const stream = survivors.track(voice.stream());
      stream.pushText('Fine, thanks.');
      stream.endInput();
      const { items } = await readUntil<tts.SynthesizedAudio | typeof tts.SynthesizeStream.END_OF_STREAM>(stream, (item) => item === tts.SynthesizeStream.END_OF_STREAM, 15_000, () => 'audio');
      lastTurnFrames = 0;
      for (const item of items) if (item !== tts.SynthesizeStream.END_OF_STREAM) lastTurnFrames += frames.track(item.frame) ? 1 : 0;
      stream.close();
    }
    const left = await survivors.settle(1, 5_000);
    const framesLeft = await frames.count();
    await voice.close();
    // The plugin's shared connection may still point at the last turn's stream: one turn at most.
    const what = `of ${survivors.tracked} streams and ${frames.tracked} frames, still reachable while the TTS is open`;
    expect(left, what).toBeLessThanOrEqual(1);
    expect(framesLeft, what).toBeLessThanOrEqual(lastTurnFrames);
  });

  // The VAD keeps every stream it made in a list (to update their options) and never removes one.
  // One VAD serves a whole job, and the VAD-wrapped OpenAI STT makes a VAD stream per STT stream;
  // patches/@livekit+agents-plugin-silero+1.9.0.patch
  it('the Silero VAD lets go of each stream once it is closed (10 streams, 1 s of audio each)', async () => {
    const vad = await silero.VAD.load();
    const survivors = new Survivors();
    for (let k = 0; k < 10; k++) {
      const stream = survivors.track(vad.stream());
      const drained = (async () => {
        for await (const _ of stream) void _;
      })();
      for (let i = 0; i < 100; i++) stream.pushFrame(frame(16_000));
      // Let it run inference on what it was given, as a call would, before it closes.
      await new Promise((resolve) => setTimeout(resolve, 200));
      stream.close();
      await drained.catch(() => undefined);
    }
    const left = await survivors.settle(1, 5_000);
    expect(left, `streams of ${survivors.tracked} still reachable while the VAD is alive`).toBeLessThanOrEqual(1);
    expect(vad.label).toBe('silero.VAD');
  });

  // Ours: the job's turn timeline used to keep every turn it reported.
  it("the job's turn timeline keeps none of the turns it has reported (500 turns)", async () => {
    const timeline = new TurnTimeline();
    const survivors = new Survivors();
    let reported = 0;
    timeline.on('turn', (turn) => void (reported += survivors.track(turn) ? 1 : 0));
    for (let k = 0; k < 500; k++) {
      const t = k * 10_000;
      timeline.markEndOfSpeech(t);
      timeline.markTranscript(t + 200);
      timeline.markLlmFirstToken(t + 500);
      timeline.markTtsFirstAudio(t + 700);
      timeline.markFirstAvatarFrame(t + 750);
    }
    expect(reported).toBe(500);
    expect(await survivors.settle(0, 2_000), `turns of ${survivors.tracked} still reachable from the timeline`).toBe(0);
    expect(timeline.listenerCount('turn')).toBe(1);
  });

  // agents' AgentActivity, in one long session: each user turn's task kept the previous turn's
  // (every turn of the call, with its transcript, speech handle and abort reason), and the speech
  // loop raced every wake-up against a promise that settles only when the activity ends, leaving
  // a reaction (and the race's promises) on it per wake-up. The bench's heap-snapshot retainer walk
  // (bench/heap-retainers.ts) named both; patches/@livekit+agents+1.9.0.patch.
  describe('the agent session keeps nothing per user turn', () => {
    let pipeline: Pipeline | undefined;
    afterAll(async () => {
      await pipeline?.close();
    });

    it("neither the user turns' tasks nor reactions on the speech loop's abort (6 turns, then 12 more)", async () => {
      pipeline = await startPipeline({ transcripts: [], reply: 'Fine, thanks.' });
      const p = pipeline;
      // The turn as audio recognition hands it over at the end of the user's speech (its own
      // cost is not what is measured here, and 18 spoken turns would take minutes).
      const activity = (p.offline.session as unknown as { activity: { onEndOfTurn(info: object): Promise<boolean>; _userTurnCompletedTask?: { result: Promise<void> } } }).activity;
      const tasks = new Survivors();
      const turns = async (n: number) => {
        for (let turn = 0; turn < n; turn++) {
          const replied = p.replyDone(20_000);
          const at = Date.now();
          await activity.onEndOfTurn({ newTranscript: `How are you, question ${turn}?`, transcriptConfidence: 1, transcriptionDelay: 0, endOfUtteranceDelay: 0, startedSpeakingAt: at - 1_000, stoppedSpeakingAt: at });
          const task = activity._userTurnCompletedTask!;
          tasks.track(task);
          await task.result;
          await replied;
        }
      };
      await turns(6);
      const reactionsAfter6 = await longestReactionList();
      await turns(12);
      const reactionsAfter18 = await longestReactionList();
      // The last turn's task is still the activity's; none before it.
      const tasksLeft = await tasks.settle(1, 5_000);
      expect(tasksLeft, `user-turn tasks of ${tasks.tracked} still reachable`).toBeLessThanOrEqual(1);
      // The speech loop wakes at least once a turn; a reaction left per wake-up grows the list.
      expect(reactionsAfter18 - reactionsAfter6, `the longest list of reactions on one promise: ${reactionsAfter6} after 6 turns, ${reactionsAfter18} after 18`).toBeLessThanOrEqual(REACTIONS_NOISE);
      expect(p.errors).toEqual([]);
    }, 240_000);
  });
});

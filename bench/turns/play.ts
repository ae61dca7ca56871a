/**
 * One user turn, played into one rig's room and measured at the user's ear: end of the user's last
 * word (from the WAV, at the moment that sample left the microphone) → first audible sample of the
 * reply. On a barge-in turn the user then talks over the reply, and the time until the agent's
 * voice stops at the ear is measured too. On a cough turn the user makes a short sound with no
 * words over the reply (no barge-in): what the agent's voice does then is measured, the other side
 * of a quick barge-in.
 */
import type { LatencyMessage } from '../../src/metrics/latency-message.js';
import { now } from '../../test/e2e/viewer.js';
import { sleep } from '../../test/livekit-server/testing.js';
import { wordsPerSpan, type CorpusTurn } from './corpus.js';
import type { ChainDraw } from './profiles.js';
import type { FakesTrace, Rig } from './rig.js';

/** A turn with no reply this long after the last word is missed. */
export const MISSED_AFTER_MS = 10_000;
/** The agent's voice counts as stopped after this long without a loud frame. */
const STOPPED_QUIET_MS = 400;

export interface TurnResult {
  turn: number;
  wav: string;
  /** What the fake LLM answered. */
  reply: string;
  draw: ChainDraw;
  /** End of the last word → first reply audio at the ear; undefined when missed or cut in. */
  e2eMs?: number;
  /** The reply began before the user's last word: the user was cut off. */
  falseCutIn: boolean;
  /** On a cut-in: when the reply began, in ms before the last word ended. */
  cutInBeforeMs?: number;
  missed: boolean;
  /** The stages the worker reported for this turn (`avatar.latency`), relative to its end of speech. */
  stages?: LatencyMessage['marks'];
  /**
   * How late the fakes were for the reply (the LLM's first clause and the TTS's first byte, beyond
   * what the profile drew), as they recorded it; undefined when their requests were not found.
   */
  fakesLateMs?: number;
  /** The fakes' wall-clock marks for the reply (rig.ts), to split the worker's share into links. */
  fakes?: FakesTrace;
  /** The worker's end of speech for this turn (wall clock, from `avatar.latency`); `stages` count from it. */
  endOfSpeechAt?: number;
  /** User's barge-in onset → the agent's voice stops at the ear. */
  bargeInStopMs?: number;
  /**
   * A cough over the reply: the longest stretch without the agent's voice in the COUGH_WINDOW_MS
   * from the sound's onset (the reply's own pauses between sentences included).
   */
  coughGapMs?: number;
  /** After the cough the agent's voice did not come back within COUGH_WINDOW_MS: the reply was lost. */
  coughLostReply?: boolean;
  /** The agent's states as the user saw them during the turn, ms from the end of the last word. */
  states: [string, number][];
}

export interface PlayOptions {
  turn: number;
  draw: ChainDraw;
  reply: string;
  /** Talk over the reply with this turn's audio once the reply has played `afterMs`. */
  bargeIn?: { with: CorpusTurn; reply: string; afterMs: number };
  /** Make this short sound (no words: an empty transcript) over the reply once it has played `afterMs`. */
  cough?: { samples: Int16Array; sampleRate: number; afterMs: number };
}

/** How long after a cough's onset the agent's voice is watched. */
export const COUGH_WINDOW_MS = 4_000;

export async function playTurn(rig: Rig, turn: CorpusTurn, options: PlayOptions): Promise<TurnResult> {
  const { caller } = rig;
  await caller.idle(600, 30_000);
  rig.prepare(wordsPerSpan(turn.text, turn.speech), options.reply, options.draw);
  const rate = turn.sampleRate;
  const firstSample = Math.round((turn.speech[0]!.startMs / 1000) * rate);
  const lastSample = Math.min(turn.samples.length - 1, Math.round((turn.speech.at(-1)!.endMs / 1000) * rate));
  const latencyBefore = caller.latency.length;
  const played = caller.play(turn.samples, rate, [firstSample, lastSample]);
  const firstWordAt = await played.marks[0]!;
  const lastWordAt = await played.marks[1]!;
  const result: TurnResult = { turn: options.turn, wav: turn.name, reply: options.reply, draw: options.draw, falseCutIn: false, missed: false, states: [] };

  // Any voice from the agent between the first and the last word cut the user off.
  const early = caller.voiceOnset(firstWordAt);
  if (early !== undefined && early < lastWordAt) {
    result.falseCutIn = true;
    result.cutInBeforeMs = Math.round(lastWordAt - early);
  }
  let onset: number | undefined;
  while (onset === undefined && now() < lastWordAt + MISSED_AFTER_MS) {
    onset = caller.voiceOnset(result.falseCutIn ? firstWordAt : lastWordAt);
    if (onset === undefined) await sleep(10);
  }
  if (onset === undefined) result.missed = true;
  else if (!result.falseCutIn) result.e2eMs = Math.round(onset - lastWordAt);
  // The fakes log on the wall clock: the reply's onset there.
  if (onset !== undefined) {
    result.fakes = rig.fakesTrace(Date.now() - (now() - onset), options.reply, options.draw);
    result.fakesLateMs = result.fakes?.lateMs;
  }

  if (options.bargeIn && onset !== undefined && !result.falseCutIn) {
    const barge = options.bargeIn;
    await sleepUntil(onset + barge.afterMs);
    // Only meaningful while the agent is still talking.
    if (caller.voiceStop(onset, STOPPED_QUIET_MS) === undefined) {
      rig.prepare(wordsPerSpan(barge.with.text, barge.with.speech), barge.reply, options.draw);
      const bargeFirst = Math.round((barge.with.speech[0]!.startMs / 1000) * barge.with.sampleRate);
      const bargePlay = caller.play(barge.with.samples, barge.with.sampleRate, [bargeFirst]);
      const bargeAt = await bargePlay.marks[0]!;
      let stop: number | undefined;
      while (stop === undefined && now() < bargeAt + 5_000) {
        stop = caller.voiceStop(bargeAt, STOPPED_QUIET_MS);
        if (stop === undefined) await sleep(20);
      }
      if (stop !== undefined) result.bargeInStopMs = Math.round(stop - bargeAt);
      // The agent answers what the user said over it; the next turn starts after that answer, not
      // in the quiet between the interruption and the answer.
      const bargeEnd = await bargePlay.done;
      while (caller.voiceOnset(bargeEnd) === undefined && now() < bargeEnd + MISSED_AFTER_MS) await sleep(20);
    }
  }
  if (options.cough && onset !== undefined && !result.falseCutIn) {
    const cough = options.cough;
    await sleepUntil(onset + cough.afterMs);
    if (caller.voiceStop(onset, STOPPED_QUIET_MS) === undefined) {
      // Noise to a recognizer: an empty transcript, so only voice activity can react to it.
      rig.prepare([], options.reply, options.draw);
      const coughPlay = caller.play(cough.samples, cough.sampleRate, [0]);
      const coughAt = await coughPlay.marks[0]!;
      await sleepUntil(coughAt + COUGH_WINDOW_MS);
      const gap = caller.longestQuiet(coughAt, coughAt + COUGH_WINDOW_MS);
      result.coughGapMs = Math.round(gap.ms);
      result.coughLostReply = !gap.voiceAfter;
    }
  }
  await played.done;
  await caller.idle(600, 30_000).catch(() => undefined);
  // The worker's own account of the turn: of the messages that came during it, the one whose end
  // of speech is nearest the last word (a barge-in or a split turn sends more than one).
  const message = caller.latency
    .slice(latencyBefore)
    .map((l) => l.message)
    .sort((a, b) => Math.abs(a.endOfSpeechAt - lastWordAt) - Math.abs(b.endOfSpeechAt - lastWordAt))[0];
  if (message) {
    result.stages = message.marks;
    result.endOfSpeechAt = message.endOfSpeechAt;
  }
  result.states = caller.states.filter((s) => s.at >= firstWordAt - 2_000).map((s) => [s.state, Math.round(s.at - lastWordAt)]);
  return result;
}

async function sleepUntil(at: number): Promise<void> {
  const left = at - now();
  if (left > 0) await sleep(left);
}

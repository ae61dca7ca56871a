/**
 * The avatar falls silent as soon as the user's voice starts over it, not after the barge-in
 * minimum of speech; a sound that ends short of that minimum (a cough, "hmm") was no barge-in, and
 * the reply carries on to its end. src/pipeline/pause-at-speech-onset.ts, and the patch to agents'
 * onVADInferenceDone (patches/@livekit+agents+1.9.0.patch): agents counted the silence after a
 * sound, up to the VAD's end of speech, as speech, so any sound reached the minimum.
 */
import { voice, type VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { afterEach, expect, it } from 'vitest';
import { waitUntil } from '../livekit-server/testing.js';
import { LONG_REPLY, startPipeline, transcript, type Pipeline } from '../support/pipeline.js';

const QUESTION = 'How do I book a table?';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function talkOverTheReply(env: Record<string, string>) {
  // Only the question is transcribed: the sound over the reply gets an empty transcript, as noise
  // does from a real recognizer, so only the voice activity decides.
  pipeline = await startPipeline({ transcripts: [QUESTION], reply: () => LONG_REPLY, env: { TURN_PRESET: 'tuned', ...env }, vad: await slowToEndVad() });
  const p = pipeline;
  const userStates: { state: string; at: number }[] = [];
  p.offline.session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => userStates.push({ state: ev.newState, at: Date.now() }));
  const turn = p.nextTurn(30_000);
  await p.say(QUESTION, { trailMs: 300 });
  await turn;
  // agents ignores the user's voice over the agent's first 3 s of speech (echo-cancellation warm-up).
  const fps = p.sink.format!.fps;
  await waitUntil(() => p.sink.frames.filter((f) => f.speech).length >= fps * 3.5, 30_000, 'the agent to speak for 3.5 s');
  const soundAt = Date.now();
  const framesBefore = p.sink.frames.length;
  await p.say('Hmm, okay.', { trailMs: 200 });
  // The VAD has ended the user's speech: the sound is over as far as the agent can know.
  await waitUntil(() => userStates.some((s) => s.at > soundAt && s.state === 'listening'), 15_000, "the VAD to end the user's sound");
  const soundEndedAt = userStates.find((s) => s.at > soundAt && s.state === 'listening')!.at;
  await p.replyDone(40_000);
  const after = p.sink.frames.slice(framesBefore);
  const firstQuiet = after.findIndex((f) => !f.speech);
  return { p, after, firstQuiet, soundEndedAt };
}

/**
 * A barge-in needs 1.5 s of speech here, so the ~0.9 s sound is none; the VAD ends speech after 1 s
 * of silence, so sound and silence together pass the minimum, as any sound did in agents 1.9.
 */
const SHORT_OF_A_BARGE_IN = { INTERRUPTION_MIN_DURATION_MS: '1500' };
let vad: Promise<VAD> | undefined;
const slowToEndVad = () => (vad ??= silero.VAD.load({ minSilenceDuration: 1000 }));

it("falls silent at the onset of the user's voice over the reply, and a sound short of a barge-in lets the reply finish", async () => {
  const { p, after, firstQuiet, soundEndedAt } = await talkOverTheReply(SHORT_OF_A_BARGE_IN);
  // It went quiet while the user was still making the sound, before the VAD ended it...
  expect(firstQuiet, 'the avatar to fall silent over the sound').toBeGreaterThanOrEqual(0);
  expect(after[firstQuiet]!.wallMs).toBeLessThan(soundEndedAt);
  // ...and spoke again after it, without the reply being interrupted: it is in the history whole.
  expect(after.slice(firstQuiet).some((f) => f.speech), 'the reply to resume').toBe(true);
  const reply = transcript(p.offline.session).filter((m) => m.role === 'assistant').at(-1);
  expect(reply).toMatchObject({ text: LONG_REPLY, interrupted: false });
});

it('with the onset pause off, the same sound goes unheard by the avatar, which talks straight through it', async () => {
  const { after, firstQuiet } = await talkOverTheReply({ ...SHORT_OF_A_BARGE_IN, INTERRUPTION_PAUSE_AT_ONSET: 'false' });
  // Quiet comes only once the reply is over: no speech after the first quiet frame.
  expect(after.length).toBeGreaterThan(0);
  expect(firstQuiet === -1 || !after.slice(firstQuiet).some((f) => f.speech)).toBe(true);
});

/**
 * The user's first words, in a real browser: headless Chromium opens the page (web/, built fresh),
 * the user clicks Start and asks a question (Chromium's fake microphone plays an espeak-ng WAV)
 * before the agent is in the room. The page records it with livekit-client's pre-connect buffer
 * (`preConnectBuffer: true` on the microphone, as App.tsx asks) and sends it to the agent once the
 * agent is active; the REAL worker (`src/main.ts dev`, providers the loopback fakes) plays it into
 * its session: the question is transcribed, answered, and the answer is heard in the page.
 *
 * The agent joins late as it does in a deployment whose dispatch is slow (workers scaling from
 * zero, a queue in front of them): the test server holds the room's dispatch (`holdDispatch`) until
 * the page's microphone has captured the whole question, a condition read from the page's own
 * WebRTC statistics, never a fixed wait. The page itself is not touched.
 *
 * Needs Chromium, espeak-ng and ffmpeg (as test/e2e-browser.test.ts: skipped without Chromium
 * unless CI is set).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParticipantInfo_Kind, TrackType } from '@livekit/protocol';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../src/audio/wav.js';
import { TF_PRECONNECT_BUFFER } from '../src/pipeline/pre-connect/protocol.js';
import { startFakeDeepgram } from './fakes/deepgram.js';
import { startFakeOpenAI } from './fakes/openai.js';
import { durationMs, speechWithSilence } from './fakes/speech.js';
import { waitFor } from './fakes/wait.js';
import { buildPage } from './e2e-browser/build-page.js';
import { audioTotals, chromiumMissing, launchBrowser, waitForAudio } from './e2e-browser/browser.js';
import { servePage, step as step_, workerEnv, workerRegistered, type Stack } from './e2e-browser/stack.js';
import { startWorkerProcess } from './e2e/worker-process.js';
import { startTestLiveKitServer, type HeldDispatch } from './livekit-server/index.js';

const AGENT_NAME = 'e2e-browser-pre-connect';
const QUESTION = 'What is the tallest mountain on Earth?';
const REPLY = 'Mount Everest, at about eight thousand eight hundred metres.';
const STATE = '[data-testid="agent-state"]';
/** agents' job process, once its prewarm (the VAD) is done and it can take a job (a debug line). */
const WARM_PROCESS_READY = /job runner initialized/;
const PLAYING_BUFFER = /playing \d+\.\d s of audio user-\S+ said before the agent joined/;

const missing = chromiumMissing();
const skip = missing !== undefined && !process.env.CI;
if (skip) process.stderr.write(`e2e-browser-pre-connect skipped: ${missing}\n`);

const stack: Stack = {};
const step = <T>(what: string, fn: () => Promise<T>) => step_(stack, what, stack.browser?.page, fn);
let scratch: string;
let web: FastifyInstance | undefined;
let pageUrl: string;
/** Seconds of the microphone file: lead silence, the question, a little silence after it. */
let questionS = 0;

/** Whether the worker has printed a line matching `pattern`; each line is tested once per pattern (the waits poll every 10 ms, on a busy machine). */
const readUpTo = new Map<RegExp, number>();
function saidByWorker(pattern: RegExp): boolean {
  const lines = stack.worker?.lines ?? [];
  const from = readUpTo.get(pattern) ?? 0;
  if (from < 0) return true;
  for (let i = from; i < lines.length; i++) {
    if (pattern.test(lines[i]!)) {
      readUpTo.set(pattern, -1);
      return true;
    }
  }
  readUpTo.set(pattern, lines.length);
  return false;
}

/** The room's dispatch, held by the test server until `release()`. */
const held: { dispatches: HeldDispatch[]; release: () => void; released: boolean } = { dispatches: [], release: () => undefined, released: false };
const releasedDispatch = new Promise<void>((resolve) => {
  held.release = () => {
    held.released = true;
    resolve();
  };
});

describe.skipIf(skip)('a question asked in the browser before the agent joined', () => {
  beforeAll(async () => {
    if (missing) throw new Error(missing);
    scratch = mkdtempSync(join(tmpdir(), 'e2e-browser-pre-connect-'));
    const pageDir = join(scratch, 'web');
    // Played once (%noloop) from the moment the page opens the microphone, then silence: after the
    // agent has joined, the live microphone carries nothing.
    const question = await speechWithSilence(QUESTION, { sampleRate: 48_000, leadMs: 300, trailMs: 300 });
    questionS = durationMs(question) / 1000;
    const wav = join(scratch, 'question.wav');
    writeFileSync(wav, encodeWav({ sampleRate: question.sampleRate, channels: 1, samples: question.samples }));

    stack.server = await startTestLiveKitServer({
      departureTimeoutS: 1,
      log: false,
      holdDispatch: async (dispatch) => {
        if (dispatch.agentName !== AGENT_NAME) return;
        held.dispatches.push(dispatch);
        await releasedDispatch;
      },
    });
    // Every utterance the fake hears is the question (a busy machine may make the worker's STT
    // reconnect and send it again).
    stack.deepgram = await startFakeDeepgram({ transcripts: () => QUESTION });
    // The LLM answers only the question it was given.
    stack.openai = await startFakeOpenAI({ reply: (messages) => (messages.some((m) => m.role === 'user' && JSON.stringify(m.content).includes('tallest mountain')) ? REPLY : 'Sorry?') });
    stack.worker = startWorkerProcess(
      workerEnv(stack.server, stack.deepgram, stack.openai, {
        LIVEKIT_AGENT_NAME: AGENT_NAME,
        AGENT_GREETING: '', // the only speech the page hears is the answer
        AVATAR: 'voice-only',
        TURN_DETECTION: 'vad',
        // A warm job process, waited for before the click: the agent is late because of the
        // dispatch, not a fork on a busy machine (the page gives an agent 20 s from the click to
        // join and start listening). Debug lines say when it is ready.
        WORKER_IDLE_PROCESSES: '1',
        LOG_LEVEL: 'debug',
      }),
    );
    const [built, launched] = await Promise.allSettled([buildPage(pageDir), launchBrowser(wav)]);
    if (launched.status === 'fulfilled') stack.browser = launched.value; // closed in afterAll either way
    if (built.status === 'rejected') throw built.reason;
    if (launched.status === 'rejected') throw launched.reason;
    ({ web, url: pageUrl } = await servePage(stack.server, AGENT_NAME, pageDir));
    const { server, worker } = stack;
    await step('the worker registering with the test server', () => workerRegistered({ server, worker }, AGENT_NAME, 150_000));
    await step("the worker's warm job process ready", () => waitFor(() => saidByWorker(WARM_PROCESS_READY), 150_000, "the worker's 'job runner initialized' line"));
  }, 360_000);

  afterAll(async () => {
    held.release();
    await stack.browser?.close();
    await web?.close();
    await stack.worker?.stop(20_000).catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    await Promise.all([stack.deepgram?.close(), stack.openai?.close()]);
    await stack.server?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it('is transcribed from the page\'s pre-connect buffer and answered, and the answer is heard', async () => {
    const { page } = stack.browser!;
    const server = stack.server!;
    const worker = stack.worker!;
    const numbers: Record<string, number | string> = {};
    await page.goto(pageUrl);
    const t0 = performance.now();
    await step('clicking Start conversation', () => page.getByRole('button', { name: 'Start conversation' }).click({ timeout: 10_000 }));

    // 1. The user speaks while the room's dispatch is held; the page records it.
    await step("the room's dispatch held", () => waitFor(() => held.dispatches.length > 0, 30_000, 'the dispatch of the agent to be held'));
    // livekit-client announces the buffer on the microphone it publishes (TF_PRECONNECT_BUFFER).
    await step('the page publishing a microphone that announces a pre-connect buffer', () =>
      waitFor(
        () => !!server.room(held.dispatches[0]!.room)?.participants.some((p) => p.tracks.some((t) => t.type === TrackType.AUDIO && t.audioFeatures.includes(TF_PRECONNECT_BUFFER))),
        30_000,
        "the page's microphone with TF_PRECONNECT_BUFFER",
      ),
    );
    // The user is told to speak while the agent is still on its way, not "Connecting…".
    await step('the badge saying the page is listening before the agent joined', () =>
      page.locator(`${STATE}[data-state="pre-connect-buffering"]`).filter({ hasText: 'Listening' }).waitFor({ timeout: 30_000 }),
    );
    await step('the microphone capturing the whole question', () => waitForAudio(page, (t) => t.capturedS >= questionS, 60_000, `${questionS.toFixed(1)} s of microphone audio`));
    numbers.questionCapturedMs = Math.round(performance.now() - t0);
    const roomName = held.dispatches[0]!.room;
    expect(server.room(roomName)?.participants.some((p) => p.kind === ParticipantInfo_Kind.AGENT), 'an agent in the room before the dispatch was released').toBe(false);
    expect(stack.deepgram!.requests.length, 'connections to the STT before the agent joined').toBe(0);
    const heardBefore = (await audioTotals(page)).receivedEnergy;

    // 2. The dispatch goes through: the agent joins, the page sends what it recorded.
    held.release();
    const released = performance.now();
    // The page gives the agent 20 s from the click (components-react's agent timeout) and then
    // ends the call, as it would for a person: on a machine too loaded for that, this says so.
    await step('the agent joining', () =>
      waitFor(
        () => {
          if (!server.room(roomName)?.participants.some((p) => p.kind === ParticipantInfo_Kind.STANDARD)) throw new Error('the page left the room before the agent came (its 20 s agent timeout?)');
          return !!server.room(roomName)?.participants.some((p) => p.kind === ParticipantInfo_Kind.AGENT);
        },
        30_000,
        `the agent in ${roomName}`,
      ),
    );
    numbers.agentJoinedAfterReleaseMs = Math.round(performance.now() - released);
    await step('the worker playing the pre-connect buffer', () =>
      waitFor(() => saidByWorker(PLAYING_BUFFER), 60_000, "the worker's 'playing … said before the agent joined' line"),
    );

    // 3. The question is transcribed (the user's caption) and answered: the agent's caption, its
    // speech, and audio the page plays.
    await step("the user's caption of the question", () => page.locator('.caption[data-speaker="user"] .caption-text').filter({ hasText: QUESTION }).first().waitFor({ timeout: 60_000 }));
    numbers.userCaptionAfterReleaseMs = Math.round(performance.now() - released);
    await step('the final answer caption', () =>
      page.locator('.caption[data-speaker="agent"][data-final="true"] .caption-text').filter({ hasText: 'Mount Everest' }).first().waitFor({ timeout: 60_000 }),
    );
    numbers.answerAfterReleaseMs = Math.round(performance.now() - released);
    const heard = await step('the answer heard in the page', () => waitForAudio(page, (t) => t.receivedEnergy > heardBefore + 0.01, 30_000, "the agent's audio received by the page"));
    numbers.receivedAudioS = Number(heard.receivedS.toFixed(2));
    numbers.receivedAudioEnergy = Number(heard.receivedEnergy.toFixed(3));
    await step('the agent listening again', () => page.locator(`${STATE}[data-state="listening"]`).waitFor({ timeout: 30_000 }));

    // Heard from the buffer: the live microphone carried only silence once the agent was there.
    expect(stack.deepgram!.utterances, 'utterances the STT heard').toBeGreaterThanOrEqual(1);
    expect(new Set(await page.locator('.caption[data-speaker="user"] .caption-text').allInnerTexts())).toEqual(new Set([QUESTION]));
    expect(stack.browser!.console.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
    // The room's dispatch (one launch per job type: room, participant, publisher), for that room only.
    expect(new Set(held.dispatches.map((d) => d.room))).toEqual(new Set([roomName]));
    process.stdout.write(`e2e-browser-pre-connect: ${JSON.stringify(numbers)}\n`);
  }, 300_000);
});

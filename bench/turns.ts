/**
 * `npm run bench:turns`: turn-taking and latency at the user's ear, ours against stock LiveKit
 * Agents settings, side by side in one run.
 *
 * Two real workers (`src/main.ts dev`, job and inference processes as in production), one with our
 * turn-taking (TURN_PRESET=tuned) and one with what a developer gets from LiveKit's examples and
 * agents-js 1.9 defaults (TURN_PRESET=stock): same providers (fakes on loopback adding latency
 * drawn per turn from a profile), same avatar, each in its own room on the LiveKit-protocol test
 * server. A user participant speaks a corpus of recorded turns into each room, alternating turn by
 * turn so machine noise hits both, and listens to what comes back.
 *
 *   npm run bench:turns -- [--profile cloud|fast|local] [--corpus DIR] [--config both|ours|stock]
 *                          [--turns N] [--json FILE] [--plot FILE.png] [--seed N] [--barge-every N]
 *                          [--cough-every N] [--worker-logs DIR] [--set KEY=VALUE ...] [--voices espeak-ng|flite]
 *
 * Without --corpus, a default corpus is made with espeak-ng (bench/out/corpus), or with flite's
 * voices (`--voices flite`, bench/out/corpus-flite: same turns, another engine's prosody). Progress goes to
 * stderr; the table to stdout. --worker-logs runs the workers at LOG_LEVEL=debug and writes each
 * one's output to DIR/<config>.log at the end (why a turn was slow: agents logs every preemptive
 * generation, end-of-turn prediction and commit). --set KEY=VALUE (repeatable) sets a worker
 * variable for ours only, to measure one lever against stock (e.g. --set ENDPOINTING_MIN_DELAY_MS=800).
 * Every --barge-every'th turn (5) the user talks over the reply; every --cough-every'th (8) they make
 * a short sound with no words over it instead (a 260 ms "hm", shorter than either config's barge-in
 * minimum), to measure what a quick barge-in costs when it was not one.
 * The CDF plot goes to docs/ for the default comparison (default corpus, every turn, both configs,
 * no --set), to bench/out/ for anything else, unless --plot names a file.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { dispose } from '@livekit/rtc-node';
import { startLoopbackServer } from '../test/fakes/net.js';
import { startTestLiveKitServer } from '../test/livekit-server/index.js';
import { loadCorpus, speechSpans, speechThreshold as thresholdOf } from './turns/corpus.js';
import { writeDefaultCorpus } from './turns/default-corpus.js';
import { synthesize, type SpeechEngine } from '../test/fakes/speech.js';
import { playTurn, type TurnResult } from './turns/play.js';
import { describePolicies, describeSweep, probeEndOfTurn } from './turns/eot-probe.js';
import { envSchema } from '../src/config/env.js';
import { drawer, PROFILE_NAMES, PROFILES, type ProfileName } from './turns/profiles.js';
import { firstClausePacingMs, formatTable, summarize, writeCdfPlot, writeJson, type BenchReport } from './turns/report.js';
import { liveWorkers, startRig, type ConfigName, type Rig } from './turns/rig.js';
import { measureTransport } from './turns/transport.js';

/** What the fake LLM answers: short spoken replies, each opening with a short clause, as LLMs do in voice. */
const REPLIES = [
  'Sure, I can do that. Your booking is now on Thursday at ten.',
  'Of course. We open at nine tomorrow morning.',
  'Got it, thank you. Is there anything else I can help with?',
  'Good question. The premium plan is twelve dollars a month.',
  'Okay. I have noted that down for you.',
];
/** A cough turn's reply outlasts the cough and the COUGH_WINDOW_MS watched after it. */
const MEDIUM_REPLY =
  'Let me walk you through it. First, open the settings page and choose your account, then scroll down to the section called bookings and press edit.';
/** A barge-in turn's reply is long, so the user has something to talk over. */
const LONG_REPLY =
  'Let me walk you through it. First, open the settings page and choose your account. Then scroll down to the section called bookings, where you will see every appointment you have made this year, with the date, the time and the place. Pick the one you want to change and press edit.';

const { values: args } = parseArgs({
  options: {
    profile: { type: 'string', default: 'cloud' },
    corpus: { type: 'string' },
    config: { type: 'string', default: 'both' },
    turns: { type: 'string' },
    json: { type: 'string' },
    plot: { type: 'string' },
    seed: { type: 'string', default: '7' },
    'barge-every': { type: 'string', default: '5' },
    'cough-every': { type: 'string', default: '8' },
    'worker-logs': { type: 'string' },
    set: { type: 'string', multiple: true, default: [] },
    voices: { type: 'string', default: 'espeak-ng' },
  },
});

const fail = (message: string): never => {
  process.stderr.write(`bench:turns: ${message}\n`);
  process.exit(2);
};
if (!PROFILE_NAMES.includes(args.profile as ProfileName)) fail(`--profile must be one of ${PROFILE_NAMES.join(', ')} (got ${args.profile})`);
if (!['espeak-ng', 'flite'].includes(args.voices)) fail(`--voices must be espeak-ng or flite (got ${args.voices})`);
if (args.voices !== 'espeak-ng' && args.corpus) fail('--voices makes the default corpus; it cannot go with --corpus');
if (!['both', 'ours', 'stock'].includes(args.config)) fail(`--config must be both, ours or stock (got ${args.config})`);
const profile = PROFILES[args.profile as ProfileName];
const configs: ConfigName[] = args.config === 'both' ? ['ours', 'stock'] : [args.config as ConfigName];
const bargeEvery = Number(args['barge-every']);
const coughEvery = Number(args['cough-every']);
if (!Number.isInteger(bargeEvery) || bargeEvery < 0) fail(`--barge-every must be a whole number, 0 for none (got ${args['barge-every']})`);
if (!Number.isInteger(coughEvery) || coughEvery < 0) fail(`--cough-every must be a whole number, 0 for none (got ${args['cough-every']})`);
const oursEnv: Record<string, string> = {};
for (const setting of args.set) {
  const eq = setting.indexOf('=');
  if (eq <= 0) fail(`--set takes KEY=VALUE (got ${setting})`);
  oursEnv[setting.slice(0, eq)] = setting.slice(eq + 1);
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

let corpusDir = args.corpus;
if (!corpusDir) {
  const voices = args.voices as SpeechEngine;
  corpusDir = fileURLToPath(new URL(voices === 'flite' ? './out/corpus-flite' : './out/corpus', import.meta.url));
  progress(`making the default corpus with ${voices} in ${corpusDir} …`);
  await writeDefaultCorpus(corpusDir, voices);
}
const corpusAll = await loadCorpus(corpusDir);
const corpus = args.turns ? corpusAll.slice(0, Number(args.turns)) : corpusAll;
const speechThreshold = Math.min(...corpus.map((t) => t.threshold));
const cough = await coughSound();
progress(`corpus: ${corpus.length} turns from ${corpusDir}; profile ${profile.name}; configs ${configs.join(' + ')}${args.set.length ? `; ours with ${args.set.join(' ')}` : ''}`);
// The delays ours runs with (its defaults, or what --set gives it), for the probe's policy simulation.
const eotModel = await probeEndOfTurn(corpus, {
  minDelayMs: envSchema.shape.ENDPOINTING_MIN_DELAY_MS.parse(oursEnv.ENDPOINTING_MIN_DELAY_MS),
  maxDelayMs: envSchema.shape.ENDPOINTING_MAX_DELAY_MS.parse(oursEnv.ENDPOINTING_MAX_DELAY_MS),
});
if (eotModel) progress(`end-of-turn model on this corpus: ${eotModel.endsLikely}/${eotModel.ends} turn ends judged complete, ${eotModel.pausesUnlikely}/${eotModel.pauses} pauses judged incomplete`);
if (eotModel) progress(`  at other "unlikely" thresholds: ${describeSweep(eotModel)}`);
if (eotModel) progress(`  how often it is asked: ${describePolicies(eotModel)}`);

const server = await startTestLiveKitServer({ departureTimeoutS: 1 });
// Stands in for LiveKit Cloud's inference gateway: nothing may depend on it.
const inference = await startLoopbackServer(
  (_req, res) => res.writeHead(503).end(),
  (_req: IncomingMessage, socket) => socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
);
const rigs = new Map<ConfigName, Rig>();
// Ctrl+C must not leave two workers (and their job processes) running behind it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the workers …`);
    void Promise.allSettled([...liveWorkers].map((w) => w.stop(10_000))).then(() => process.exit(130));
  });
}
const results = new Map<ConfigName, TurnResult[]>(configs.map((c) => [c, []]));
// The fakes stamp each request when this process's loop reads it: its own lag is reported beside the links.
const benchLoop = monitorEventLoopDelay({ resolution: 10 });
let exitCode = 0;
try {
  for (const name of configs) {
    progress(`starting the ${name} worker …`);
    rigs.set(
      name,
      await startRig({
        name,
        server,
        profile,
        speechThreshold,
        inferenceUrl: `http://127.0.0.1:${inference.port}`,
        env: { ...(args['worker-logs'] ? { LOG_LEVEL: 'debug' } : {}), ...(name === 'ours' ? oursEnv : {}) },
      }),
    );
  }
  benchLoop.enable();
  progress('measuring the test server transport …');
  const before = await measureTransport(server);

  // A warm-up turn per config (models loaded, caches filled, the agent's first 3 s of speech, during
  // which agents ignores barge-in, spent), not counted.
  const draw = drawer(profile, Number(args.seed));
  for (const rig of rigs.values()) await playTurn(rig, corpus[0]!, { turn: 0, draw: draw(), reply: LONG_REPLY });

  for (const [i, turn] of corpus.entries()) {
    const d = draw();
    // Alternate who goes first, so a slow moment of the machine does not always land on one side.
    const order = i % 2 === 0 ? configs : [...configs].reverse();
    for (const name of order) {
      const barge = bargeEvery > 0 && i % bargeEvery === bargeEvery - 1;
      const coughed = !barge && coughEvery > 0 && i % coughEvery === 2;
      const reply = barge ? LONG_REPLY : coughed ? MEDIUM_REPLY : REPLIES[i % REPLIES.length]!;
      const result = await playTurn(rigs.get(name)!, turn, {
        turn: i + 1,
        draw: d,
        reply,
        ...(barge ? { bargeIn: { with: corpus[(i + 1) % corpus.length]!, reply: REPLIES[(i + 1) % REPLIES.length]!, afterMs: 1200 } } : {}),
        ...(coughed ? { cough: { ...cough, afterMs: 1200 } } : {}),
      });
      results.get(name)!.push(result);
      const states = result.states.map(([state, at]) => `${state}@${at}`).join(' ');
      const what = result.missed ? `MISSED (agent: ${states})` : result.falseCutIn ? `CUT IN ${result.cutInBeforeMs} ms before the last word (agent: ${states})` : `${result.e2eMs} ms`;
      progress(`[${String(i + 1).padStart(2)}/${corpus.length}] ${name.padEnd(5)} ${turn.name.padEnd(14)} ${what}${result.bargeInStopMs !== undefined ? `, barge-in stop ${result.bargeInStopMs} ms` : ''}${result.coughGapMs !== undefined ? `, cough: longest gap ${result.coughGapMs} ms${result.coughLostReply ? ', REPLY LOST' : ''}` : ''} (chain ${d.sttFinalMs}+${d.llmTtftMs}+${d.ttsTtfbMs})`);
    }
  }
  // Measured again at the end; on a machine too loaded to answer, the first figure stands.
  const after = await measureTransport(server).catch((err: unknown) => {
    progress(`transport re-measure failed (${(err as Error).message}); using the first`);
    return before;
  });
  const transport = {
    userToAgent: Math.round((before.userToAgent + after.userToAgent) / 2),
    agentToUser: Math.round((before.agentToUser + after.agentToUser) / 2),
    samples: { userToAgent: [...before.samples.userToAgent, ...after.samples.userToAgent], agentToUser: [...before.samples.agentToUser, ...after.samples.agentToUser] },
  };
  const pacing = (r: TurnResult) => firstClausePacingMs(r.reply, profile.llmTokenMs);
  const report: BenchReport = {
    profile: profile.name,
    corpus: corpusDir,
    configs: Object.fromEntries([...results].map(([name, r]) => [name, summarize(r, transport, pacing)])),
    transportMs: { userToAgent: transport.userToAgent, agentToUser: transport.agentToUser },
    ...(eotModel ? { eotModel } : {}),
    ...(args.set.length ? { oursSettings: oursEnv } : {}),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    benchEventLoopMs: { p50: Math.round(benchLoop.percentile(50) / 1e6), p99: Math.round(benchLoop.percentile(99) / 1e6), max: Math.round(benchLoop.max / 1e6) },
    turns: Object.fromEntries(results),
  };
  console.log(formatTable(report));
  // The figure in docs/ is the default comparison: the default corpus, every turn, both configs,
  // ours as shipped. Anything else (a lever tried with --set, a short or one-sided run, your own
  // recordings) is an experiment, and its plot goes beside the JSON in bench/out/.
  const asShipped = !args.corpus && !args.turns && args.config === 'both' && args.set.length === 0;
  const plotDir = asShipped ? '../docs/' : './out/';
  const plot = args.plot ?? join(fileURLToPath(new URL(plotDir, import.meta.url)), `latency-turns-${profile.name}${args.voices === 'flite' ? '-flite' : ''}.png`);
  await writeCdfPlot(plot, report);
  progress(`plot: ${plot}`);
  if (args.json) {
    await writeJson(args.json, report);
    progress(`json: ${args.json}`);
  }
} catch (err) {
  progress(`bench:turns failed: ${(err as Error).stack ?? String(err)}`);
  for (const rig of rigs.values()) progress(`--- ${rig.name} worker output:\n${rig.worker.tail(20)}`);
  exitCode = 1;
} finally {
  if (args['worker-logs']) {
    await mkdir(args['worker-logs'], { recursive: true });
    for (const rig of rigs.values()) await writeFile(join(args['worker-logs'], `${rig.name}.log`), `${rig.worker.tail(Number.MAX_SAFE_INTEGER)}\n`);
    progress(`worker logs: ${args['worker-logs']}`);
  }
  for (const rig of rigs.values()) await rig.close().catch(() => undefined);
  await Promise.all([server.close(), inference.close()]);
  await dispose();
}
process.exit(exitCode);

/** A short "hm" with no words, cut to where it is audible: 260 ms, under both configs' barge-in minimum. */
async function coughSound(): Promise<{ samples: Int16Array; sampleRate: number }> {
  const sampleRate = 16_000;
  const { samples } = await synthesize('Hm.', { sampleRate, wordsPerMinute: 300 });
  const span = speechSpans(samples, sampleRate, thresholdOf(samples, sampleRate))[0];
  if (!span) throw new Error('bench:turns: espeak-ng made no audible "hm" for the cough turns');
  return { samples: samples.subarray((span.startMs * sampleRate) / 1000, (span.endMs * sampleRate) / 1000), sampleRate };
}

import { initializeLogger, voice } from '@livekit/agents';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { FileMediaSink } from '../avatar/local/file-sink.js';
import { resampleMono } from '../audio/resample.js';
import { parseWav, toMono } from '../audio/wav.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger } from '../logging.js';
import { formatTurnLine } from '../metrics/turn-log.js';
import type { TurnTimings } from '../metrics/turn-timeline.js';
import { startOfflineSession } from '../offline/offline-session.js';
import { describePipelineError } from '../pipeline/describe-error.js';

const USAGE = 'usage: npm run converse -- --input question.wav --out reply.mp4 [--timeout 60]';

const argsSchema = z.object({
  input: z.string({ error: `--input is required (a WAV recording of a question). ${USAGE}` }).min(1),
  out: z.string({ error: `--out is required (the MP4 to write). ${USAGE}` }).regex(/\.(mp4|mov|mkv)$/i, { error: `--out must end in .mp4, .mov or .mkv. ${USAGE}` }),
  timeout: z.coerce.number().positive().max(600).default(60),
});

/**
 * `converse`: one turn of the real pipeline with the configured providers, on a recording. The
 * question plays into a paced microphone; the avatar's reply is written to a video; the turn's
 * stage timings are printed.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { input: { type: 'string' }, out: { type: 'string' }, timeout: { type: 'string' } }, strict: true });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`converse: ${parsed.error.issues[0]!.message}\n`);
    return 2;
  }
  const args = parsed.data;
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error: ${err.message}\n`);
      return 78;
    }
    throw err;
  }
  // The plugins log through agents' logger, which must exist before they are built.
  initializeLogger({ pretty: false, level: 'warn' });
  // Logs to stderr: stdout carries the result.
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, secrets: config.secrets, destination: process.stderr });
  // As in a LiveKit job process: agents 1.9 leaves some provider failures as unawaited
  // rejections; they are already reported as session errors and must not end the run.
  process.on('unhandledRejection', (reason) => logger.debug({ reason: String(reason) }, 'unhandled rejection (already reported)'));
  const wav = toMono(parseWav(await readFile(args.input), args.input));
  const question = resampleMono(wav.samples, wav.sampleRate, 16000);

  const sink = new FileMediaSink(args.out, { paused: true });
  const offline = await startOfflineSession({ config, sink, logger });
  const errors: string[] = [];
  offline.session.on(voice.AgentSessionEventTypes.Error, (ev) => {
    const message = describePipelineError(ev);
    errors.push(message);
    logger.error(message);
  });

  let turn: TurnTimings | undefined;
  const replied = new Promise<void>((resolve) => {
    offline.timeline.once('turn', (t) => (turn = t));
    offline.session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
      if (turn && ev.oldState === 'speaking') resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), args.timeout * 1000)));

  process.stderr.write(`converse: playing ${args.input} (${(question.length / 16000).toFixed(1)} s) into the pipeline…\n`);
  // Record from the moment the user stops speaking: the file shows the wait, then the reply.
  offline.session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
    if (ev.oldState === 'speaking') sink.resume();
  });
  await new Promise((r) => setTimeout(r, 300));
  await offline.input.play(question);
  sink.resume();
  process.stderr.write('converse: question played; waiting for the reply…\n');
  const outcome = await Promise.race([replied, timedOut]);
  clearTimeout(timer);
  await offline.close();

  if (!turn) {
    process.stderr.write(`converse: no reply within ${args.timeout} s${errors.length ? `: ${errors.at(-1)}` : '; check the STT, LLM and TTS settings'}\n`);
    return 1;
  }
  if (outcome === 'timeout') process.stderr.write(`converse: the reply was still playing after ${args.timeout} s; the video is cut there\n`);
  const transcript = offline.session.history.items
    .filter((i): i is typeof i & { type: 'message' } => i.type === 'message')
    .map((i) => `${i.role}: ${i.textContent ?? ''}`)
    .join('\n');
  process.stdout.write(`${transcript}\n${formatTurnLine(turn, config.ops.latencyBudgetMs)}\nwrote ${args.out}\n`);
  return 0;
}

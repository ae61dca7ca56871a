import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { builtinAnimator } from '../avatar/builtin.js';
import { FileMediaSink } from '../avatar/local/file-sink.js';
import { resampleMono } from '../audio/resample.js';
import { parseWav, toMono } from '../audio/wav.js';
import { loadAvatarProfile } from '../config/avatar-profile.js';
import { renderSpeech } from '../offline/render-speech.js';

const USAGE = 'usage: npm run render -- --audio in.wav --out out.mp4 [--avatar default] [--avatars-dir avatars]';

const argsSchema = z.object({
  audio: z.string({ error: `--audio is required (a WAV file). ${USAGE}` }).min(1),
  out: z.string({ error: `--out is required (the MP4 to write). ${USAGE}` }).regex(/\.(mp4|mov|mkv)$/i, { error: `--out must end in .mp4, .mov or .mkv. ${USAGE}` }),
  avatar: z.string().default('default'),
  'avatars-dir': z.string().default('avatars'),
});

/** `render`: drive an avatar profile with a recording and write the video with its audio. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { audio: { type: 'string' }, out: { type: 'string' }, avatar: { type: 'string' }, 'avatars-dir': { type: 'string' } }, strict: true });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`render: ${parsed.error.issues[0]!.message}\n`);
    return 2;
  }
  const args = parsed.data;
  try {
    const profile = await loadAvatarProfile(args['avatars-dir'], args.avatar);
    if (profile.adapter !== 'builtin') throw new Error(`render drives local avatars; profile ${args.avatar} uses the ${profile.adapter} adapter`);
    const wav = toMono(parseWav(await readFile(args.audio), args.audio));
    const pcm = resampleMono(wav.samples, wav.sampleRate, profile.sampleRate);
    const animator = builtinAnimator(profile);
    const sink = new FileMediaSink(args.out);
    const started = performance.now();
    const stats = await renderSpeech({
      animator,
      sink,
      pcm,
      onProgress: (done, total) => process.stderr.write(`\rrender: frame ${done}/${total} (${Math.round((100 * done) / total)}%)`),
    });
    const secs = (performance.now() - started) / 1000;
    process.stderr.write(`\n`);
    process.stdout.write(`wrote ${args.out}: ${stats.frames} frames at ${animator.fps} fps (${(stats.frames / animator.fps).toFixed(2)} s) in ${secs.toFixed(2)} s, ${(stats.frames / secs).toFixed(0)} frames/s\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`render: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

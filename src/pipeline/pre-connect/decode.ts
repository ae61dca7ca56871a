import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { downmixInterleaved } from '../../audio/pcm.js';
import { isEncoded } from './protocol.js';

/**
 * Turns a pre-connect payload into mono PCM16 at `sampleRate`. Encoded audio (the browser's
 * webm/opus) is decoded by the ffmpeg that @livekit/agents already ships (@livekit/av, with the
 * webm and opus decoders), so the worker image needs no system ffmpeg; LIVEKIT_FFMPEG_PATH and
 * then `ffmpeg` on the PATH are used where there is no bundled binary, as agents itself does.
 */
export async function decodePreConnectAudio(payload: Uint8Array, mimeType: string | undefined, sampleRate: number, channels: number): Promise<Int16Array> {
  if (!isEncoded(mimeType)) {
    const usable = payload.byteLength - (payload.byteLength % (2 * channels));
    const copy = new Uint8Array(usable);
    copy.set(payload.subarray(0, usable));
    return downmixInterleaved(new Int16Array(copy.buffer), channels);
  }
  return ffmpegDecode(payload, sampleRate);
}

/** The ffmpeg that decodes the browser's buffer: LIVEKIT_FFMPEG_PATH, agents' bundled one, else `ffmpeg` on the PATH. */
export function ffmpegPath(): string {
  if (process.env.LIVEKIT_FFMPEG_PATH) return process.env.LIVEKIT_FFMPEG_PATH;
  try {
    // Resolved from @livekit/agents, whose dependency it is (not ours).
    const fromAgents = createRequire(createRequire(import.meta.url).resolve('@livekit/agents'));
    const av = fromAgents('@livekit/av') as { getFfmpegPath(): string | null };
    return av.getFfmpegPath() ?? 'ffmpeg';
  } catch {
    return 'ffmpeg';
  }
}

function ffmpegDecode(payload: Uint8Array, sampleRate: number): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    const bin = ffmpegPath();
    const child = spawn(bin, ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', String(sampleRate), 'pipe:1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e) => reject(new Error(`cannot run ${bin} to decode the pre-connect audio (${e.message}); install ffmpeg or set LIVEKIT_FFMPEG_PATH`)));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${bin} could not decode the pre-connect audio: ${err.trim().split('\n').at(-1) ?? `exit ${code}`}`));
      const all = Buffer.concat(out);
      const pcm = new Int16Array(all.byteLength >> 1);
      new Uint8Array(pcm.buffer).set(all.subarray(0, pcm.byteLength));
      resolve(pcm);
    });
    // A stopped ffmpeg closes stdin early; its exit code says what went wrong, not EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(payload);
  });
}

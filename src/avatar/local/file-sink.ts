import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatPcm } from '../../audio/pcm.js';
import { encodeWav } from '../../audio/wav.js';
import type { RgbaFrame } from '../frames/frame-source.js';
import type { AvatarMediaSink, MediaFormat } from './media-sink.js';

export class FfmpegMissingError extends Error {
  override name = 'FfmpegMissingError';
  constructor() {
    super('ffmpeg is not installed or not on PATH; it is needed to write video files. Install it: apt-get install ffmpeg (Debian/Ubuntu) or brew install ffmpeg (macOS)');
  }
}

export function assertFfmpeg(): void {
  const probe = spawnSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new FfmpegMissingError();
}

/**
 * Writes a local avatar to an MP4 file: frames stream into an H.264 encoder as they come, the
 * audio is kept (it is small) and muxed in at the end. Every tick writes one frame and its audio,
 * silence included, so picture and sound keep the same timeline in the file.
 */
export class FileMediaSink implements AvatarMediaSink {
  private encoder: ChildProcess | undefined;
  private encoderDone: Promise<unknown> | undefined;
  private stderr = '';
  private workDir = '';
  private format: MediaFormat | undefined;
  private readonly audio: Int16Array[] = [];
  private backpressure: Promise<void> | undefined;

  /** While paused the sink drops what it is given: `converse` records only the reply. */
  private paused: boolean;

  constructor(
    private readonly outPath: string,
    opts: { paused?: boolean } = {},
  ) {
    this.paused = opts.paused ?? false;
  }

  resume(): void {
    this.paused = false;
  }

  async start(format: MediaFormat): Promise<void> {
    assertFfmpeg();
    this.format = format;
    this.workDir = await mkdtemp(join(tmpdir(), 'avatar-render-'));
    this.encoder = spawn(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${format.width}x${format.height}`, '-r', String(format.fps), '-i', 'pipe:0',
        '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-an', join(this.workDir, 'video.mp4')],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    this.encoder.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.encoderDone = once(this.encoder, 'close');
  }

  pushAudio(pcm: Int16Array): void {
    if (this.paused) return;
    this.audio.push(pcm.slice());
  }

  pushVideo(frame: RgbaFrame): void {
    const stdin = this.encoder?.stdin;
    if (!stdin || this.paused) return;
    // A copy, because the renderer reuses its buffer while the pipe may still hold this one.
    if (!stdin.write(Buffer.from(frame.data)) && !this.backpressure) {
      this.backpressure = once(stdin, 'drain').then(() => {
        this.backpressure = undefined;
      });
    }
  }

  /** Resolves when the encoder has taken what it was given; offline renders await it per frame. */
  async drained(): Promise<void> {
    await this.backpressure;
  }

  clearAudio(): void {}

  queuedAudioMs(): number {
    return 0;
  }

  async close(): Promise<void> {
    if (!this.encoder || !this.format) return;
    this.encoder.stdin!.end();
    const [code] = (await this.encoderDone) as [number | null];
    this.encoder = undefined;
    try {
      if (code !== 0) throw new Error(`ffmpeg could not encode the video (exit ${code}): ${this.stderr.trim()}`);
      const samples = concatPcm(this.audio);
      const wavPath = join(this.workDir, 'audio.wav');
      await writeFile(wavPath, encodeWav({ sampleRate: this.format.sampleRate, channels: 1, samples }));
      const mux = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', join(this.workDir, 'video.mp4'), '-i', wavPath, '-c:v', 'copy', '-c:a', 'aac', '-b:a', '128k', '-shortest', '-movflags', '+faststart', this.outPath], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      mux.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const [muxCode] = (await once(mux, 'close')) as [number | null];
      if (muxCode !== 0) throw new Error(`ffmpeg could not write ${this.outPath} (exit ${muxCode}): ${err.trim()}`);
    } finally {
      await rm(this.workDir, { recursive: true, force: true });
    }
  }
}

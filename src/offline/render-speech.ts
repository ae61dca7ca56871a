import type { AvatarAnimator } from '../avatar/local/animator.js';
import type { FileMediaSink } from '../avatar/local/file-sink.js';

/**
 * Drive a local avatar with a whole recording as fast as the CPU allows: the same animator step
 * as a live room, tick by tick, with a short idle tail so the last syllable is not cut.
 */
export async function renderSpeech(opts: {
  animator: AvatarAnimator;
  sink: FileMediaSink;
  pcm: Int16Array;
  tailMs?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<{ frames: number }> {
  const { animator, sink, pcm } = opts;
  const n = animator.samplesPerFrame;
  const total = Math.ceil(pcm.length / n) + Math.round(((opts.tailMs ?? 400) / 1000) * animator.fps);
  await sink.start({ width: animator.frames.width, height: animator.frames.height, fps: animator.fps, sampleRate: animator.sampleRate });
  try {
    for (let i = 0; i < total; i++) {
      const chunk = new Int16Array(n);
      const from = i * n;
      if (from < pcm.length) chunk.set(pcm.subarray(from, Math.min(pcm.length, from + n)));
      const speaking = from < pcm.length;
      const { frame } = animator.step(chunk, i, speaking);
      sink.pushAudio(chunk);
      sink.pushVideo(frame!);
      await sink.drained();
      if (opts.onProgress && (i % opts.animator.fps === 0 || i === total - 1)) opts.onProgress(i + 1, total);
    }
  } finally {
    await sink.close();
  }
  return { frames: total };
}

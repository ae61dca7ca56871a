/** Average interleaved PCM16 channels down to one. */
export function downmixInterleaved(data: Int16Array, channels: number): Int16Array {
  if (channels === 1) return data.slice();
  const frames = Math.floor(data.length / channels);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += data[i * channels + c]!;
    out[i] = Math.round(sum / channels);
  }
  return out;
}

/** Root mean square of PCM16 samples, 0..1. */
export function rms(pcm: Int16Array, start = 0, end = pcm.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = pcm[i]! / 32768;
    sum += v * v;
  }
  return Math.sqrt(sum / (end - start));
}

/** Join PCM chunks into one buffer. */
export function concatPcm(chunks: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of chunks) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

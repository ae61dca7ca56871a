import { createBuiltinFace, type Rect } from '../../src/avatar/frames/builtin/index.js';
import type { MemoryMediaSink } from '../../src/avatar/local/memory-sink.js';
import { rms } from '../../src/audio/pcm.js';

let lips: Rect | undefined;
/** Where the default face's lips sit at rest, on a 512x512 frame. */
function lipsRect(): Rect {
  return (lips ??= createBuiltinFace({ width: 512, height: 512 }).layout.lips);
}

/**
 * How open the mouth is in each recorded frame, measured from the pixels: the dark inner mouth
 * in a box around the lips (padded for the head's idle motion), in the sink's luma thumbnails.
 */
export function mouthOpenness(sink: MemoryMediaSink, darkBelow = 100): number[] {
  const scale = sink.thumbnailScale;
  const w = Math.floor(sink.format!.width / scale);
  const r = lipsRect();
  const pad = 12;
  const x0 = Math.floor((r.x - pad) / scale);
  const x1 = Math.ceil((r.x + r.w + pad) / scale);
  const y0 = Math.floor((r.y - pad) / scale);
  const y1 = Math.ceil((r.y + r.h + pad * 2) / scale);
  return sink.frames.map((f) => {
    let dark = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (f.luma[y * w + x]! < darkBelow) dark++;
    return dark;
  });
}

/** Loudness of the audio played with each recorded frame. */
export function speechEnvelope(sink: MemoryMediaSink): number[] {
  return sink.frames.map((f) => rms(sink.audio[f.tick]!));
}

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n < 2) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    cov += (a[i]! - ma) * (b[i]! - mb);
    va += (a[i]! - ma) ** 2;
    vb += (b[i]! - mb) ** 2;
  }
  return va === 0 || vb === 0 ? 0 : cov / Math.sqrt(va * vb);
}

import { describe, expect, it } from 'vitest';
import { createBuiltinFace } from '../src/avatar/frames/builtin/index.js';
import { rasterCacheSize } from '../src/avatar/frames/builtin/sprite.js';
import type { FrameRequest } from '../src/avatar/frames/frame-source.js';

const at = (timeMs: number, jawOpen: number): FrameRequest => ({ timeMs, mouth: { jawOpen } as FrameRequest['mouth'], speaking: true });

describe('built-in face sprites, rasterised once per process', () => {
  it('a second face of the same profile reuses the rasters and draws the same pixels', () => {
    const opts = { width: 256, height: 256, seed: 3 };
    const first = createBuiltinFace(opts);
    const kept = rasterCacheSize();
    const t0 = performance.now();
    const second = createBuiltinFace(opts);
    const secondMs = performance.now() - t0;
    expect(rasterCacheSize()).toEqual(kept);
    const a = first.render(at(1200, 0.6));
    const b = second.render(at(1200, 0.6));
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    // Drawing on one face never touches the shared rasters the other draws from.
    first.render(at(2500, 1));
    expect(Buffer.from(second.render(at(1200, 0.6)).data).equals(Buffer.from(a.data))).toBe(true);
    console.log(`second face in ${secondMs.toFixed(0)} ms; cache ${kept.entries} rasters, ${(kept.bytes / 1e6).toFixed(1)} MB`);
  });
});

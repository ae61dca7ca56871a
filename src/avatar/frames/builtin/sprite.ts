import { Resvg } from '@resvg/resvg-js';

/**
 * A pre-rasterised RGBA layer (premultiplied alpha, as resvg renders it) with its position on the
 * frame and a run-length table so blitting copies opaque runs with `TypedArray.set` and blends only
 * the anti-aliased edge pixels.
 */
export interface Sprite {
  /** Top-left corner on the frame when drawn at offset (0, 0). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Premultiplied RGBA, width*height*4. */
  pixels: Uint8Array;
  /** Runs as quadruples [row, x0, length, kind] with kind 0 = opaque copy, 1 = blend; transparent pixels are skipped. */
  runs: Int32Array;
}

const RESVG_OPTS = { font: { loadSystemFonts: false }, shapeRendering: 2 as const, logLevel: 'off' as const };

type Raster = { width: number; height: number; pixels: Uint8Array };

/**
 * Rasterised documents by their SVG text. Rasterising a face's sprites takes seconds on a busy
 * core; a job process rasterises its profile's face once in prewarm (agent.ts), so the next call's
 * face comes from here while the user waits for the agent. Rasters are read-only (blit sources).
 * Bounded: a few faces' worth; the oldest entry goes first.
 */
const rasters = new Map<string, Raster>();
const MAX_RASTERS = 1_024;

/** Rasterise an SVG document (its own width/height/viewBox) to premultiplied RGBA. */
export function rasterize(svg: string): Raster {
  const cached = rasters.get(svg);
  if (cached) return cached;
  const img = new Resvg(svg, RESVG_OPTS).render();
  const buf = img.pixels;
  const raster = { width: img.width, height: img.height, pixels: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
  rasters.set(svg, raster);
  if (rasters.size > MAX_RASTERS) rasters.delete(rasters.keys().next().value!);
  return raster;
}

/** How many rasters are kept and their bytes (for tests and memory accounting). */
export function rasterCacheSize(): { entries: number; bytes: number } {
  let bytes = 0;
  for (const r of rasters.values()) bytes += r.pixels.byteLength;
  return { entries: rasters.size, bytes };
}

/** Build the run table of a premultiplied RGBA image. */
export function makeSprite(x: number, y: number, width: number, height: number, pixels: Uint8Array): Sprite {
  const runs: number[] = [];
  for (let row = 0; row < height; row++) {
    let col = 0;
    const base = row * width * 4;
    while (col < width) {
      const a = pixels[base + col * 4 + 3]!;
      const kind = a === 0 ? -1 : a === 255 ? 0 : 1;
      let end = col + 1;
      while (end < width) {
        const b = pixels[base + end * 4 + 3]!;
        const k = b === 0 ? -1 : b === 255 ? 0 : 1;
        if (k !== kind) break;
        end++;
      }
      if (kind >= 0) runs.push(row, col, end - col, kind);
      col = end;
    }
  }
  return { x, y, width, height, pixels, runs: Int32Array.from(runs) };
}

/** Rasterise an SVG fragment that is already cropped to the sprite's rect. */
export function spriteFromSvg(x: number, y: number, svg: string): Sprite {
  const r = rasterize(svg);
  return makeSprite(x, y, r.width, r.height, r.pixels);
}

/**
 * Draw `s` onto an opaque RGBA frame at its position plus (dx, dy), clipped to the frame.
 * Opaque runs are memcpy'd; edge pixels are blended (premultiplied "over").
 */
export function blit(dst: Uint8Array, dstW: number, dstH: number, s: Sprite, dx: number, dy: number): void {
  const ox = s.x + dx;
  const oy = s.y + dy;
  const runs = s.runs;
  const src = s.pixels;
  const sw = s.width;
  for (let i = 0; i < runs.length; i += 4) {
    const row = runs[i]!;
    const ty = oy + row;
    if (ty < 0 || ty >= dstH) continue;
    let x0 = runs[i + 1]!;
    let len = runs[i + 2]!;
    let tx = ox + x0;
    if (tx < 0) {
      x0 -= tx;
      len += tx;
      tx = 0;
    }
    if (tx + len > dstW) len = dstW - tx;
    if (len <= 0) continue;
    const sOff = (row * sw + x0) * 4;
    const dOff = (ty * dstW + tx) * 4;
    if (runs[i + 3] === 0) {
      dst.set(src.subarray(sOff, sOff + len * 4), dOff);
    } else {
      for (let p = 0; p < len * 4; p += 4) {
        const inv = 255 - src[sOff + p + 3]!;
        const d = dOff + p;
        const sp = sOff + p;
        dst[d] = src[sp]! + ((dst[d]! * inv + 127) / 255) | 0;
        dst[d + 1] = src[sp + 1]! + ((dst[d + 1]! * inv + 127) / 255) | 0;
        dst[d + 2] = src[sp + 2]! + ((dst[d + 2]! * inv + 127) / 255) | 0;
        dst[d + 3] = 255;
      }
    }
  }
}

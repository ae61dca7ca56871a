/**
 * A video frame that carries numbers a test can read back after a lossy codec: a grid of big
 * black/white cells (each bit a whole cell, aligned to 8x8 blocks at 720p) in the top-left
 * corner. Row 0 is a sync word, then the frame counter, the low 32 bits of Date.now() when the
 * frame was made, a level (the fake streamer's "mouth": how loud the speech it heard was), and a
 * checksum, so a misread frame is rejected instead of trusted.
 */
import type { RgbaFrame } from '../../../src/avatar/frames/frame-source.js';

export interface FrameCode {
  /** 0..65535, wraps. */
  counter: number;
  /** Date.now() when the streamer made the frame (full value after `unwrapTime`). */
  timeMs: number;
  /** 0..255. */
  level: number;
}

const SYNC = 0xa5c3;
const COLUMNS = 16;
const ROWS = 5;

/** Side of one bit cell for a frame `width` wide (64 px at 1280, 32 at 640, 16 at 320). */
export function cellSize(width: number): number {
  return Math.max(8, Math.floor(width / 20 / 8) * 8);
}

function words(code: FrameCode): number[] {
  const t = code.timeMs >>> 0;
  const level = code.level & 0xff;
  const counter = code.counter & 0xffff;
  const bytes = [counter >> 8, counter & 0xff, t >>> 24, (t >>> 16) & 0xff, (t >>> 8) & 0xff, t & 0xff, level];
  const checksum = bytes.reduce((a, b) => a ^ b, 0x5a);
  return [SYNC, counter, t >>> 16, t & 0xffff, (level << 8) | checksum];
}

/** Paints the code into the luma (Y) plane of an I420 frame. */
export function paintCode(y: Uint8Array, width: number, code: FrameCode): void {
  const cell = cellSize(width);
  const rows = words(code);
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLUMNS; c++) {
      const bit = (rows[r]! >> (COLUMNS - 1 - c)) & 1;
      const value = bit ? 235 : 16;
      for (let py = r * cell; py < (r + 1) * cell; py++) y.fill(value, py * width + c * cell, py * width + (c + 1) * cell);
    }
  }
}

/**
 * Reads a code through `lumaAt(x, y)` (coordinates of a `width`-wide picture); undefined when
 * the sync word or the checksum does not match. `scale`: the picture is the frame downscaled by it.
 */
export function readCode(lumaAt: (x: number, y: number) => number, fullWidth: number, scale = 1): FrameCode | undefined {
  const cell = cellSize(fullWidth) / scale;
  const rows: number[] = [];
  for (let r = 0; r < ROWS; r++) {
    let word = 0;
    for (let c = 0; c < COLUMNS; c++) {
      const cx = Math.floor((c + 0.5) * cell);
      const cy = Math.floor((r + 0.5) * cell);
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) sum += lumaAt(cx + dx, cy + dy);
      word = (word << 1) | (sum / 9 > 128 ? 1 : 0);
    }
    rows.push(word);
  }
  if (rows[0] !== SYNC) return undefined;
  const counter = rows[1]!;
  const timeMs = ((rows[2]! << 16) | rows[3]!) >>> 0;
  const level = rows[4]! >> 8;
  const code = { counter, timeMs, level };
  return words(code)[4] === rows[4] ? code : undefined;
}

/** Reads a code from a full RGBA frame (what the bridge hands its sink). */
export function readCodeFromRgba(frame: RgbaFrame): FrameCode | undefined {
  const d = frame.data;
  return readCode((x, y) => {
    const i = (y * frame.width + x) * 4;
    return (d[i]! * 77 + d[i + 1]! * 150 + d[i + 2]! * 29) >> 8;
  }, frame.width);
}

/** Reads a code from MemoryMediaSink's luma thumbnail (`scale` is its thumbnailScale). */
export function readCodeFromLuma(luma: Uint8Array, fullWidth: number, scale: number): FrameCode | undefined {
  const w = Math.floor(fullWidth / scale);
  return readCode((x, y) => luma[y * w + x] ?? 0, fullWidth, scale);
}

/** The full Date.now() value of a code's low 32 bits, taking the high bits from `nowMs`. */
export function unwrapTime(low32: number, nowMs = Date.now()): number {
  const span = 2 ** 32;
  let t = Math.floor(nowMs / span) * span + low32;
  if (t > nowMs + span / 2) t -= span;
  return t;
}

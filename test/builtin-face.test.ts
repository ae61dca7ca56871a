import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWav, toMono } from '../src/audio/wav.js';
import { contactSheet, createBuiltinFace, encodePng, type BuiltinFace, type Rect } from '../src/avatar/frames/builtin/index.js';
import type { FrameRequest, RgbaFrame } from '../src/avatar/frames/frame-source.js';
import { NEUTRAL_MOUTH, type Blendshapes } from '../src/avatar/visemes/blendshapes.js';
import { createVisemeEngine } from '../src/avatar/visemes/index.js';

const OUT_DIR = join(process.cwd(), 'test-results');

function savePng(name: string, data: Uint8Array, width: number, height: number): void {
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, name), encodePng(data, width, height));
}

function crop(f: RgbaFrame, r: Rect): Uint8Array {
  const out = new Uint8Array(r.w * r.h * 4);
  for (let y = 0; y < r.h; y++) out.set(f.data.subarray(((r.y + y) * f.width + r.x) * 4, ((r.y + y) * f.width + r.x + r.w) * 4), y * r.w * 4);
  return out;
}

/** Count pixels in rect r (shifted by dx, dy) that satisfy pred(r, g, b). */
function count(f: RgbaFrame, r: Rect, pred: (r: number, g: number, b: number) => boolean, dx = 0, dy = 0): number {
  let n = 0;
  for (let y = r.y + dy; y < r.y + dy + r.h; y++) {
    for (let x = r.x + dx; x < r.x + dx + r.w; x++) {
      const i = (y * f.width + x) * 4;
      if (pred(f.data[i]!, f.data[i + 1]!, f.data[i + 2]!)) n++;
    }
  }
  return n;
}

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;
const isDark = (r: number, g: number, b: number) => luma(r, g, b) < 70;
const isSclera = (r: number, g: number, b: number) => r > 228 && g > 225 && b > 220;

function darkInMouth(face: BuiltinFace, req: FrameRequest): number {
  const f = face.render(req);
  const p = face.pose(req);
  return count(f, face.layout.lips, isDark, p.headDx, p.headDy);
}

function scleraInEyes(face: BuiltinFace, req: FrameRequest): number {
  const f = face.render(req);
  const p = face.pose(req);
  return count(f, face.layout.eyeLeft, isSclera, p.headDx, p.headDy) + count(f, face.layout.eyeRight, isSclera, p.headDx, p.headDy);
}

const face = createBuiltinFace();
const silent = (timeMs: number): FrameRequest => ({ timeMs, mouth: NEUTRAL_MOUTH, speaking: false });

describe('builtin face: frames', () => {
  it('renders width x height opaque RGBA with real content', () => {
    const f = face.render(silent(0));
    expect(f.width).toBe(512);
    expect(f.height).toBe(512);
    expect(f.data).toBeInstanceOf(Uint8Array);
    expect(f.data.length).toBe(512 * 512 * 4);
    const colours = new Set<number>();
    let sum = 0;
    let sumSq = 0;
    let opaque = 0;
    for (let i = 0; i < f.data.length; i += 4) {
      if (f.data[i + 3] === 255) opaque++;
      colours.add((f.data[i]! << 16) | (f.data[i + 1]! << 8) | f.data[i + 2]!);
      const l = luma(f.data[i]!, f.data[i + 1]!, f.data[i + 2]!);
      sum += l;
      sumSq += l * l;
    }
    const n = f.data.length / 4;
    expect(opaque).toBe(n);
    const sd = Math.sqrt(sumSq / n - (sum / n) ** 2);
    expect(colours.size).toBeGreaterThan(2000);
    expect(sd).toBeGreaterThan(30);
    savePng('builtin-face.png', f.data, f.width, f.height);
  });

  it('supports other sizes (non-square keeps the face whole) and rejects silly ones', () => {
    for (const [w, h] of [
      [256, 256],
      [640, 360],
      [720, 1280],
    ] as const) {
      const fc = createBuiltinFace({ width: w, height: h });
      const f = fc.render({ timeMs: 1234, mouth: { jawOpen: 0.7 }, speaking: true });
      expect([f.width, f.height, f.data.length]).toEqual([w, h, w * h * 4]);
      const lips = fc.layout.lips;
      expect(lips.x >= 0 && lips.y >= 0 && lips.x + lips.w <= w && lips.y + lips.h <= h).toBe(true);
      expect(count(f, lips, isDark)).toBeGreaterThan(10);
    }
    expect(() => createBuiltinFace({ width: 10 })).toThrow(RangeError);
  });

  it('is deterministic for a seed and time, whatever the call order', () => {
    const a = createBuiltinFace({ seed: 7 });
    const b = createBuiltinFace({ seed: 7 });
    const req = (t: number): FrameRequest => ({ timeMs: t, mouth: { jawOpen: (t % 700) / 700, mouthFunnel: 0.3 }, speaking: t % 3000 < 1500 });
    const times = [0, 40, 80, 3120, 4000, 9000, 15000, 61000];
    const fromA = times.map((t) => a.render(req(t)).data.slice());
    const fromB = [...times].reverse().map((t) => b.render(req(t)).data.slice()).reverse();
    for (let i = 0; i < times.length; i++) expect(Buffer.compare(Buffer.from(fromA[i]!), Buffer.from(fromB[i]!))).toBe(0);
    // A different seed moves differently.
    const c = createBuiltinFace({ seed: 8 });
    const differs = times.some((t) => Buffer.compare(Buffer.from(c.render(req(t)).data), Buffer.from(a.render(req(t)).data)) !== 0);
    expect(differs).toBe(true);
  });

  it('double-buffers its output: a frame stays intact through the next render', () => {
    const f1 = face.render(silent(0));
    const copy = f1.data.slice();
    const f2 = face.render({ timeMs: 40, mouth: { jawOpen: 1 }, speaking: true });
    expect(f2.data).not.toBe(f1.data);
    expect(Buffer.compare(Buffer.from(f1.data), Buffer.from(copy))).toBe(0);
    const f3 = face.render(silent(80));
    expect(f3.data).toBe(f1.data);
  });

  it('applies style colours', () => {
    const red = createBuiltinFace({ style: { hair: '#b03020', shirt: '#20a040' } });
    const f = red.render(silent(0));
    const hairish = count(f, red.layout.head, (r, g, b) => r > 140 && g < 80 && b < 70);
    expect(hairish).toBeGreaterThan(2000);
    expect(count(face.render(silent(0)), face.layout.head, (r, g, b) => r > 140 && g < 80 && b < 70)).toBe(0);
  });
});

describe('builtin face: mouth', () => {
  it('shows a closed neutral mouth at silence', () => {
    const f = face.render(silent(0));
    expect(count(f, face.layout.lips, isDark)).toBeLessThan(3);
    // The engine's mouth for silence is the same picture as the neutral mouth.
    const engine = createVisemeEngine();
    const m = engine.frame(new Int16Array(640), 16000);
    const a = crop(face.render({ timeMs: 0, mouth: m, speaking: false }), face.layout.mouthSprite);
    const b = crop(face.render(silent(0)), face.layout.mouthSprite);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });

  it('opens monotonically with jawOpen (dark inner-mouth pixels grow)', () => {
    for (const shape of [{}, { mouthFunnel: 0.6, mouthPucker: 0.4 }, { mouthStretchLeft: 0.7, mouthStretchRight: 0.7 }] as Blendshapes[]) {
      const dark = [0, 0.25, 0.5, 0.75, 1].map((jawOpen) => darkInMouth(face, { timeMs: 500, mouth: { ...shape, jawOpen }, speaking: true }));
      expect(dark[0], JSON.stringify({ shape, dark })).toBeLessThan(5);
      for (let i = 1; i < dark.length; i++) expect(dark[i]!, JSON.stringify({ shape, dark })).toBeGreaterThanOrEqual(dark[i - 1]!);
      expect(dark[2]!).toBeGreaterThan(dark[0]! + 50);
      expect(dark[4]!).toBeGreaterThan(dark[2]! * 1.3);
    }
  });

  it('draws rounded, wide, teeth and pressed mouths differently', () => {
    const region = face.layout.lips;
    const req = (mouth: Blendshapes): FrameRequest => ({ timeMs: 0, mouth, speaking: false });
    const width = (mouth: Blendshapes) => {
      // Horizontal extent of lip-coloured (reddish) pixels.
      const f = face.render(req(mouth));
      let lo = Infinity;
      let hi = -Infinity;
      for (let y = region.y; y < region.y + region.h; y++) {
        for (let x = region.x; x < region.x + region.w; x++) {
          const i = (y * f.width + x) * 4;
          const [r, g, b] = [f.data[i]!, f.data[i + 1]!, f.data[i + 2]!];
          if (r - g > 55 && r > 150 && b < 150) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
          }
        }
      }
      return hi - lo;
    };
    const round = width({ jawOpen: 0.3, mouthPucker: 0.8, mouthFunnel: 0.6 });
    const neutral = width({ jawOpen: 0.3 });
    const wide = width({ jawOpen: 0.3, mouthStretchLeft: 0.8, mouthStretchRight: 0.8, mouthSmileLeft: 0.5, mouthSmileRight: 0.5 });
    expect(round).toBeLessThan(neutral - 8);
    expect(wide).toBeGreaterThan(neutral + 8);
    const teeth = count(face.render(req({ jawOpen: 0.05, mouthUpperUpLeft: 0.4, mouthUpperUpRight: 0.4, mouthLowerDownLeft: 0.3, mouthLowerDownRight: 0.3 })), region, (r, g, b) => r > 235 && g > 230 && b > 220);
    expect(teeth).toBeGreaterThan(40);
    // Pressed lips: no gap, and a different (thinner) mouth than the relaxed one.
    const pressed = crop(face.render(req({ mouthPressLeft: 0.8, mouthPressRight: 0.8, mouthClose: 0.5 })), region);
    const relaxed = crop(face.render(req({})), region);
    expect(Buffer.compare(Buffer.from(pressed), Buffer.from(relaxed))).not.toBe(0);
    expect(count(face.render(req({ jawOpen: 0.6, mouthClose: 1 })), region, isDark)).toBeLessThan(darkInMouth(face, req({ jawOpen: 0.6 })) / 3);
  });

  it('writes a contact sheet of mouth shapes for humans', () => {
    const shapes: Blendshapes[] = [
      {},
      { jawOpen: 0.25 },
      { jawOpen: 0.55 },
      { jawOpen: 1 },
      { jawOpen: 0.4, mouthFunnel: 0.8, mouthPucker: 0.4 },
      { jawOpen: 0.1, mouthPucker: 0.9 },
      { jawOpen: 0.35, mouthStretchLeft: 0.75, mouthStretchRight: 0.75, mouthSmileLeft: 0.45, mouthSmileRight: 0.45 },
      { jawOpen: 0.05, mouthUpperUpLeft: 0.45, mouthUpperUpRight: 0.45, mouthLowerDownLeft: 0.35, mouthLowerDownRight: 0.35, mouthStretchLeft: 0.3, mouthStretchRight: 0.3 },
      { mouthPressLeft: 0.6, mouthPressRight: 0.6, mouthClose: 0.4 },
      { jawOpen: 0.8, mouthStretchLeft: 0.4, mouthStretchRight: 0.4 },
      { jawOpen: 0.75, mouthFunnel: 0.9 },
      { jawOpen: 0.12 },
    ];
    const frames = shapes.map((mouth) => face.render({ timeMs: 0, mouth, speaking: false }).data.slice());
    const sheet = contactSheet(frames, 512, 512, 4);
    savePng('builtin-face-mouths.png', sheet.data, sheet.width, sheet.height);
  });

  it('animates real speech through the viseme engine (strip written to test-results/)', () => {
    const wav = execFileSync('espeak-ng', ['--stdout', '-v', 'en-us', '-s', '150', 'who woo moo, see me we, father saw a cat']);
    const a = toMono(parseWav(new Uint8Array(wav.buffer, wav.byteOffset, wav.byteLength)));
    const engine = createVisemeEngine();
    const n = Math.round(a.sampleRate / 25);
    const r = face.layout.mouthSprite;
    const crops: Uint8Array[] = [];
    const dark: number[] = [];
    for (let i = 0, k = 0; i + n <= a.samples.length; i += n, k++) {
      const req = { timeMs: k * 40, mouth: engine.frame(a.samples.subarray(i, i + n), a.sampleRate), speaking: true };
      const f = face.render(req);
      const p = face.pose(req);
      crops.push(crop(f, { ...r, x: r.x + p.headDx, y: r.y + p.headDy }));
      dark.push(count(f, face.layout.lips, isDark, p.headDx, p.headDy));
    }
    const sheet = contactSheet(crops, r.w, r.h, 12, 2);
    savePng('builtin-face-speech.png', sheet.data, sheet.width, sheet.height);
    // The mouth visibly moves: many distinct openings, both closed and open frames.
    expect(dark.filter((d) => d < 5).length).toBeGreaterThan(3);
    expect(dark.filter((d) => d > 150).length).toBeGreaterThan(10);
  });
});

describe('builtin face: life', () => {
  it('blinks within 10 s, briefly, and keeps the eyes open most of the time', () => {
    for (const seed of [1, 2, 3, 42]) {
      const fc = createBuiltinFace({ seed });
      const sclera: number[] = [];
      for (let t = 0; t < 10_000; t += 20) sclera.push(scleraInEyes(fc, silent(t)));
      const open = Math.max(...sclera);
      expect(open).toBeGreaterThan(200);
      const closed = sclera.map((s) => s < 0.15 * open);
      expect(closed.some(Boolean), `seed ${seed}`).toBe(true);
      const openFraction = sclera.filter((s) => s > 0.6 * open).length / sclera.length;
      expect(openFraction, `seed ${seed}`).toBeGreaterThan(0.9);
      // Each closure is short (< 150 ms at 20 ms steps) and blinks are at least ~2 s apart.
      let run = 0;
      let lastStart = -Infinity;
      closed.forEach((c, i) => {
        if (c) {
          if (run === 0) {
            expect(i * 20 - lastStart, `seed ${seed}`).toBeGreaterThan(1800);
            lastStart = i * 20;
          }
          run++;
          expect(run * 20).toBeLessThanOrEqual(150);
        } else run = 0;
      });
    }
  });

  it('moves the head and body when idle (outside the mouth and eyes), within a few pixels', () => {
    const fc = createBuiltinFace({ seed: 5 });
    const poses = Array.from({ length: 250 }, (_, i) => fc.pose(silent(i * 40)));
    const dxs = poses.map((p) => p.headDx);
    const dys = poses.map((p) => p.headDy);
    const bodys = poses.map((p) => p.bodyDy);
    expect(Math.max(...dxs) - Math.min(...dxs)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...dys) - Math.min(...dys)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...bodys) - Math.min(...bodys)).toBeGreaterThanOrEqual(2);
    for (const p of poses) {
      expect(Math.abs(p.headDx)).toBeLessThanOrEqual(8);
      expect(Math.abs(p.headDy)).toBeLessThanOrEqual(8);
    }
    // Find two silent frames whose head positions differ and compare the hair/forehead and shoulders.
    const i = poses.findIndex((p) => p.headDx !== poses[0]!.headDx || p.headDy !== poses[0]!.headDy);
    expect(i).toBeGreaterThan(0);
    const a = fc.render(silent(0)).data.slice();
    const b = fc.render(silent(i * 40)).data;
    const head = fc.layout.head;
    let changed = 0;
    for (let y = head.y; y < fc.layout.eyeLeft.y - 10; y++) {
      for (let x = head.x; x < head.x + head.w; x++) {
        const k = (y * 512 + x) * 4;
        if (Math.abs(a[k]! - b[k]!) + Math.abs(a[k + 1]! - b[k + 1]!) + Math.abs(a[k + 2]! - b[k + 2]!) > 30) changed++;
      }
    }
    expect(changed).toBeGreaterThan(100);
  });

  it('looks around a little: the gaze changes over time', () => {
    const gazes = new Set<number>();
    for (let t = 0; t < 20_000; t += 200) gazes.add(face.pose(silent(t)).gaze);
    expect(gazes.size).toBeGreaterThan(2);
  });

  it('writes a strip of idle frames (blink and motion) for humans', () => {
    const fc = createBuiltinFace({ seed: 1 });
    const frames: Uint8Array[] = [];
    const r = fc.layout.head;
    // Around the first blink, then some idle motion.
    let blinkAt = 0;
    for (let t = 0; t < 10_000; t += 20) {
      if (fc.pose(silent(t)).lid >= 1) {
        blinkAt = t;
        break;
      }
    }
    for (const t of [blinkAt - 200, blinkAt - 40, blinkAt, blinkAt + 60, blinkAt + 200, 2000, 4000, 6000]) {
      frames.push(crop(fc.render(silent(Math.max(0, t))), r));
    }
    const sheet = contactSheet(frames, r.w, r.h, 4, 2);
    savePng('builtin-face-idle.png', sheet.data, sheet.width, sheet.height);
  });
});

describe('builtin face: robustness', () => {
  it('survives garbage weights and times', () => {
    const f = face.render({ timeMs: Number.NaN, mouth: { jawOpen: Number.NaN, mouthFunnel: 7, mouthSmileLeft: -3 }, speaking: true });
    expect(f.data.length).toBe(512 * 512 * 4);
    const g = face.render({ timeMs: -5000, mouth: { jawOpen: Infinity }, speaking: false });
    expect(g.data.length).toBe(512 * 512 * 4);
    const h = face.render({ timeMs: 24 * 3600 * 1000, mouth: {}, speaking: false });
    expect(h.data.length).toBe(512 * 512 * 4);
  });
});

/**
 * A tiny Gaussian-splat head in LAM's archive format, made by code for the splat renderer's tests
 * (LAM's own sample heads come from non-commercial weights: none is shipped or downloaded). The
 * format, as gaussian-splat-renderer-for-lam 0.0.8 reads it (its non-FLAME path):
 *
 * - `<name>/skin.glb`: a skinned mesh whose vertices are the splats' anchors (splat i sits at vertex
 *   i plus its offset), its morph targets named by ARKit (the renderer moves splat i by Σ weight × target delta), a
 *   bone `hip` and a bone `head` (every splat follows the head bone).
 * - `<name>/animation.glb`: the body's clips, in the renderer's order (2 hello, 1 idle, 6 speak, 3 think).
 * - `<name>/offset.ply`: one 3D Gaussian per vertex (3DGS PLY: offset from the vertex, colour as
 *   SH degree 0, opacity logit, log scales, rotation).
 * - `<name>/vertex_order.json`: read, unused by the renderer.
 *
 * The head, 552 splats (few: SwiftShader's frame grows with them; 2121 drew at 2-6 fps): a
 * skin-coloured oval facing the renderer's fixed camera ((0, 1.8, 1), 10° down), dark eyes, and
 * a mouth whose `jawOpen` spreads dark rows from a thin line into an open mouth while the skin
 * strip below it drops onto the chin (skin over skin: no splat ever covers another colour, so
 * the picture does not depend on the order the renderer sorts splats in). Other shapes: none.
 */
import { zipSync } from 'fflate';
import { glb } from './arkit-glb.js';

const SKIN: Rgb = [0.96, 0.8, 0.69];
const DARK: Rgb = [0.3, 0.06, 0.09];
type Rgb = [number, number, number];

interface Splat {
  p: [number, number, number];
  color: Rgb;
  /** Its move at jawOpen = 1. */
  jaw: [number, number, number];
}

/** Grid spacing of the splats (m), their size (one standard deviation) and the mouth's geometry. */
const STEP = 0.016;
const SIGMA = 0.009;
const CENTRE_Y = 1.62;
const MOUTH_Y = CENTRE_Y - 0.11;
const MOUTH_HALF_WIDTH = 0.06;
const MOUTH_OPEN = 0.05;
const MOUTH_ROWS = 7;

function headSplats(): Splat[] {
  const out: Splat[] = [];
  const still: [number, number, number] = [0, 0, 0];
  for (let y = CENTRE_Y - 0.23; y <= CENTRE_Y + 0.23 + 1e-9; y += STEP) {
    for (let x = -0.18; x <= 0.18 + 1e-9; x += STEP) {
      if ((x / 0.18) ** 2 + ((y - CENTRE_Y) / 0.23) ** 2 > 1) continue;
      const eye = Math.hypot(Math.abs(x) - 0.07, y - (CENTRE_Y + 0.05)) < 0.022;
      const inMouthColumns = Math.abs(x) <= MOUTH_HALF_WIDTH;
      const onLine = Math.abs(y - MOUTH_Y) < STEP / 2;
      if (inMouthColumns && onLine) continue; // the mouth's own rows go there
      // The skin strip under the mouth drops with the jaw.
      const strip = inMouthColumns && y < MOUTH_Y && y >= MOUTH_Y - MOUTH_OPEN - 1e-9;
      out.push({ p: [x, y, 0], color: eye ? DARK : SKIN, jaw: strip ? [0, -MOUTH_OPEN, 0] : still });
    }
  }
  for (let r = 0; r < MOUTH_ROWS; r++) {
    for (let x = -MOUTH_HALF_WIDTH; x <= MOUTH_HALF_WIDTH + 1e-9; x += STEP) {
      out.push({ p: [x, MOUTH_Y, 0.001], color: DARK, jaw: [0, (-MOUTH_OPEN * r) / (MOUTH_ROWS - 1), 0] });
    }
  }
  // Whole triangles for the skin mesh (the renderer never draws it): repeat the first splat.
  while (out.length % 3) out.push({ ...out[0]! });
  return out;
}

/** The archive `<name>.zip`, served at a URL ending in `/<name>.zip`. */
export function lamHeadZip(name = 'lam-head'): Uint8Array {
  const splats = headSplats();
  const order = JSON.stringify(splats.map((_, i) => i));
  return zipSync(
    {
      [name]: {
        'skin.glb': skinGlb(splats),
        'animation.glb': animationGlb(),
        'offset.ply': offsetPly(splats),
        'vertex_order.json': new TextEncoder().encode(order),
      },
    },
    { level: 0 },
  );
}

class Bin {
  readonly chunks: Buffer[] = [];
  readonly bufferViews: object[] = [];
  readonly accessors: object[] = [];
  private offset = 0;

  add(data: Buffer, accessor: object): number {
    const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
    this.bufferViews.push({ buffer: 0, byteOffset: this.offset, byteLength: data.length });
    this.chunks.push(padded);
    this.offset += padded.length;
    this.accessors.push({ bufferView: this.bufferViews.length - 1, ...accessor });
    return this.accessors.length - 1;
  }

  floats(values: number[], type: 'SCALAR' | 'VEC3' | 'VEC4', bounds = false): number {
    const width = { SCALAR: 1, VEC3: 3, VEC4: 4 }[type];
    const columns = [...Array(width).keys()].map((k) => values.filter((_, i) => i % width === k));
    return this.add(Buffer.from(new Float32Array(values).buffer), {
      componentType: 5126,
      count: values.length / width,
      type,
      ...(bounds ? { min: columns.map((c) => Math.min(...c)), max: columns.map((c) => Math.max(...c)) } : {}),
    });
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** The bones every file names: `hip`, and `head` under it, both at rest at the origin. */
const BONES = [
  { name: 'hip', children: [1] },
  { name: 'head' },
];

function skinGlb(splats: Splat[]): Uint8Array {
  const bin = new Bin();
  // The splats sit at their offsets from the mesh (offset.ply); the mesh only carries the jaw's moves.
  const position = bin.floats(splats.flatMap(() => [0, 0, 0]), 'VEC3', true);
  const joints = bin.add(Buffer.from(new Uint8Array(splats.flatMap(() => [1, 0, 0, 0]))), { componentType: 5121, count: splats.length, type: 'VEC4' });
  const weights = bin.floats(splats.flatMap(() => [1, 0, 0, 0]), 'VEC4');
  const jawOpen = bin.floats(splats.flatMap((s) => s.jaw), 'VEC3', true);
  const json = {
    asset: { version: '2.0', generator: 'voice-avatar-worker tests' },
    scene: 0,
    scenes: [{ nodes: [0, 2] }],
    nodes: [...BONES, { name: 'face', mesh: 0, skin: 0 }],
    skins: [{ joints: [0, 1], skeleton: 0 }],
    meshes: [
      {
        name: 'face',
        primitives: [{ attributes: { POSITION: position, JOINTS_0: joints, WEIGHTS_0: weights }, targets: [{ POSITION: jawOpen }] }],
        weights: [0],
        extras: { targetNames: ['jawOpen'] },
      },
    ],
    accessors: bin.accessors,
    bufferViews: bin.bufferViews,
    buffers: [{ byteLength: bin.buffer().length }],
  };
  return glb(json, bin.buffer());
}

/** Twelve clips that hold the head still (the renderer picks hello / idle / speak / think among them by index). */
function animationGlb(): Uint8Array {
  const bin = new Bin();
  const times = bin.floats([0, 1], 'SCALAR', true);
  const still = bin.floats([0, 0, 0, 1, 0, 0, 0, 1], 'VEC4');
  const json = {
    asset: { version: '2.0', generator: 'voice-avatar-worker tests' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: BONES,
    animations: [...Array(12).keys()].map((i) => ({
      name: `clip${i}`,
      samplers: [{ input: times, output: still, interpolation: 'LINEAR' }],
      channels: [{ sampler: 0, target: { node: 1, path: 'rotation' } }],
    })),
    accessors: bin.accessors,
    bufferViews: bin.bufferViews,
    buffers: [{ byteLength: bin.buffer().length }],
  };
  return glb(json, bin.buffer());
}

/**
 * One Gaussian per vertex, at the splat's place (its vertex is at the origin): round, nearly opaque, of
 * the splat's colour. Not on the vertices: the renderer fades splats in from the centre of the
 * offsets outward, and with every offset 0 a head away from the origin stays invisible.
 */
function offsetPly(splats: Splat[]): Uint8Array {
  const fields = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
  const header = `ply\nformat binary_little_endian 1.0\nelement vertex ${splats.length}\n${fields.map((f) => `property float ${f}\n`).join('')}end_header\n`;
  const SH_C0 = 0.28209479177387814;
  const opacity = Math.log(0.995 / 0.005);
  const scale = Math.log(SIGMA);
  const data = new Float32Array(splats.length * fields.length);
  splats.forEach((s, i) => {
    data.set([...s.p, ...s.color.map((c) => (c - 0.5) / SH_C0), opacity, scale, scale, scale, 1, 0, 0, 0], i * fields.length);
  });
  return Buffer.concat([Buffer.from(header, 'ascii'), Buffer.from(data.buffer)]);
}

/**
 * A tiny GLB head with ARKit-named morph targets, made by code for the gltf renderer's tests: a
 * skin-coloured face, and a dark mouth (node "mouth") that `jawOpen` opens downwards and
 * `mouthFunnel` narrows. It has none of the other ARKit shapes (no smile, no blinks): the renderer
 * must draw it anyway. Unlit materials, so its colours on the canvas are exactly these.
 */
interface Part {
  name: string;
  color: [number, number, number];
  /** Quad corners, counter-clockwise from bottom-left: x, y, z. */
  quad: number[];
  targets: Record<string, number[]>;
}

export function arkitHeadGlb(): Uint8Array {
  const parts: Part[] = [
    { name: 'head', color: [0.96, 0.8, 0.69], quad: [-1, -1.2, 0, 1, -1.2, 0, 1, 1.2, 0, -1, 1.2, 0], targets: {} },
    {
      name: 'mouth',
      color: [0.3, 0.06, 0.09],
      // A closed mouth is a thin line.
      quad: [-0.35, -0.62, 0.01, 0.35, -0.62, 0.01, 0.35, -0.58, 0.01, -0.35, -0.58, 0.01],
      targets: {
        // The lower lip drops 0.5 (the mouth is ~13x taller wide open).
        jawOpen: [0, -0.5, 0, 0, -0.5, 0, 0, 0, 0, 0, 0, 0],
        mouthFunnel: [0.2, 0, 0, -0.2, 0, 0, -0.2, 0, 0, 0.2, 0, 0],
      },
    },
  ];
  const chunks: Buffer[] = [];
  let offset = 0;
  const bufferViews: object[] = [];
  const accessors: object[] = [];
  const addFloats = (values: number[], withBounds: boolean) => {
    const data = Buffer.from(new Float32Array(values).buffer);
    bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: data.length });
    chunks.push(data);
    offset += data.length;
    const xs = [0, 1, 2].map((k) => values.filter((_, i) => i % 3 === k));
    accessors.push({
      bufferView: bufferViews.length - 1,
      componentType: 5126,
      count: values.length / 3,
      type: 'VEC3',
      ...(withBounds ? { min: xs.map((c) => Math.min(...c)), max: xs.map((c) => Math.max(...c)) } : {}),
    });
    return accessors.length - 1;
  };
  const indexData = Buffer.from(new Uint16Array([0, 1, 2, 0, 2, 3, 0, 0]).buffer); // padded to 4 bytes
  bufferViews.push({ buffer: 0, byteOffset: 0, byteLength: 12 });
  chunks.push(indexData);
  offset += indexData.length;
  accessors.push({ bufferView: 0, componentType: 5123, count: 6, type: 'SCALAR' });
  const meshes = parts.map((p, i) => {
    const names = Object.keys(p.targets);
    return {
      name: p.name,
      primitives: [
        {
          attributes: { POSITION: addFloats(p.quad, true) },
          indices: 0,
          material: i,
          ...(names.length ? { targets: names.map((n) => ({ POSITION: addFloats(p.targets[n]!, true) })) } : {}),
        },
      ],
      ...(names.length ? { weights: names.map(() => 0), extras: { targetNames: names } } : {}),
    };
  });
  const bin = Buffer.concat(chunks);
  const json = {
    asset: { version: '2.0', generator: 'voice-avatar-worker tests' },
    extensionsUsed: ['KHR_materials_unlit'],
    scene: 0,
    scenes: [{ nodes: parts.map((_, i) => i) }],
    nodes: parts.map((p, i) => ({ name: p.name, mesh: i })),
    meshes,
    materials: parts.map((p) => ({
      name: p.name,
      pbrMetallicRoughness: { baseColorFactor: [...p.color, 1], metallicFactor: 0, roughnessFactor: 1 },
      extensions: { KHR_materials_unlit: {} },
    })),
    accessors,
    bufferViews,
    buffers: [{ byteLength: bin.length }],
  };
  return glb(json, bin);
}

/** A binary glTF (GLB) from its JSON and its one binary buffer. */
export function glb(json: object, bin: Buffer): Uint8Array {
  const pad = (b: Buffer, fill: number) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4, fill)]);
  const jsonChunk = pad(Buffer.from(JSON.stringify(json)), 0x20);
  const binChunk = pad(bin, 0);
  const header = Buffer.alloc(12);
  header.write('glTF', 0, 'ascii');
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + 8 + jsonChunk.length + 8 + binChunk.length, 8);
  const chunkHeader = (length: number, type: string) => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(length, 0);
    h.write(type, 4, 'ascii');
    return h;
  };
  return Buffer.concat([header, chunkHeader(jsonChunk.length, 'JSON'), jsonChunk, chunkHeader(binChunk.length, 'BIN\0'), binChunk]);
}

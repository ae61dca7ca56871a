import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encode straight (non-premultiplied) RGBA as a PNG; for snapshots and debugging, not the hot path. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Buffer {
  if (rgba.length < width * height * 4) throw new RangeError('encodePng: buffer smaller than width*height*4');
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Tile equally sized RGBA frames into one image, `cols` per row, with a gap of `gap` pixels. */
export function contactSheet(frames: Uint8Array[], width: number, height: number, cols: number, gap = 4): { data: Uint8Array; width: number; height: number } {
  const rows = Math.ceil(frames.length / cols);
  const W = cols * width + (cols + 1) * gap;
  const H = rows * height + (rows + 1) * gap;
  const data = new Uint8Array(W * H * 4).fill(255);
  frames.forEach((f, i) => {
    const ox = gap + (i % cols) * (width + gap);
    const oy = gap + Math.floor(i / cols) * (height + gap);
    for (let y = 0; y < height; y++) data.set(f.subarray(y * width * 4, (y + 1) * width * 4), ((oy + y) * W + ox) * 4);
  });
  return { data, width: W, height: H };
}

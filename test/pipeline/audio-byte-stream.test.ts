/**
 * agents' AudioByteStream, as patched (patches/@livekit+agents+1.9.0.patch: it copies once per write
 * instead of spreading every byte through a JS array): every TTS byte and every Deepgram-bound
 * microphone frame goes through it, so a mistake here is audio the user hears wrong or words the
 * STT never gets. The frames must be exactly the bytes written, in order, however they are chunked,
 * and must not change when the caller reuses its buffer (a fetch body reader may).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AudioByteStream, initializeLogger } from '@livekit/agents';
import { concatPcm } from '../../src/audio/pcm.js';

const RATE = 24_000;
const FRAME_SAMPLES = 480; // 20 ms

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** The frames' samples, joined, as the bytes they were written as. */
function concatFrames(frames: { data: Int16Array }[]): Uint8Array {
  const joined = concatPcm(frames.map((f) => f.data));
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

beforeAll(() => initializeLogger({ pretty: false, level: 'silent' }));

describe("agents' AudioByteStream (patched to copy once)", () => {
  it('cuts any chunking into whole frames of exactly the bytes written, in order; flush returns the even rest', () => {
    const audio = bytes(48_000 * 2 + 6, 7); // ~2 s at 24 kHz, plus three samples
    const sizes = [1, 3, 959, 960, 961, 4_800, 16_384, 65_536];
    let at = 0;
    let k = 0;
    const stream = new AudioByteStream(RATE, 1, FRAME_SAMPLES);
    const frames = [];
    while (at < audio.length) {
      const n = Math.min(sizes[k++ % sizes.length]!, audio.length - at);
      frames.push(...stream.write(audio.slice(at, at + n)));
      at += n;
    }
    expect(frames.every((f) => f.samplesPerChannel === FRAME_SAMPLES && f.sampleRate === RATE && f.channels === 1)).toBe(true);
    const rest = stream.flush();
    expect(rest.map((f) => f.samplesPerChannel)).toEqual([(audio.length % (FRAME_SAMPLES * 2)) / 2]);
    expect(concatFrames([...frames, ...rest])).toEqual(audio);
  });

  it("keeps its frames and its carried bytes when the caller reuses the chunk's buffer", () => {
    const stream = new AudioByteStream(RATE, 1, FRAME_SAMPLES);
    const chunk = bytes(960 * 2 + 100, 11); // two frames and 100 bytes carried
    const original = chunk.slice();
    const first = stream.write(chunk);
    chunk.fill(0); // the caller's next read lands in the same memory
    const next = bytes(960 - 100, 13);
    const second = stream.write(next);
    expect(first).toHaveLength(2);
    expect(second).toHaveLength(1);
    const expected = new Uint8Array(original.length + next.length);
    expected.set(original);
    expected.set(next, original.length);
    expect(concatFrames([...first, ...second])).toEqual(expected);
  });

  it('gives each frame its own aligned samples (an odd byte offset in the input does not shift them)', () => {
    const backing = bytes(1 + 960 * 3, 17);
    const stream = new AudioByteStream(RATE, 1, FRAME_SAMPLES);
    const frames = stream.write(backing.subarray(1)); // a view at an odd offset
    expect(frames).toHaveLength(3);
    for (const [i, f] of frames.entries()) {
      expect(f.data.byteOffset % 2).toBe(0);
      expect(new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength)).toEqual(backing.subarray(1 + i * 960, 1 + (i + 1) * 960));
    }
  });
});

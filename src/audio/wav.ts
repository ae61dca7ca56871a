import { downmixInterleaved } from './pcm.js';

/** Minimal RIFF/WAVE reading and writing for 16-bit PCM, 8-bit PCM and 32-bit float files. */

export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Interleaved PCM16 samples. */
  samples: Int16Array;
}

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

export function parseWav(buf: Uint8Array, source = 'WAV data'): PcmAudio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (at: number) => String.fromCharCode(buf[at]!, buf[at + 1]!, buf[at + 2]!, buf[at + 3]!);
  if (buf.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError(`${source} is not a WAV file (no RIFF/WAVE header); convert it with: ffmpeg -i input -ac 1 -ar 16000 out.wav`);
  }
  let format: { audioFormat: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= buf.byteLength) {
    const id = tag(offset);
    // Streamed WAVs (ffmpeg to a pipe, TTS servers) write 0 or 0xFFFFFFFF as the data size.
    let size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      let audioFormat = view.getUint16(body, true);
      if (audioFormat === 0xfffe && size >= 26) audioFormat = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      format = {
        audioFormat,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!format) throw new WavFormatError(`${source}: data chunk before fmt chunk`);
      if (size === 0 || size === 0xffffffff || body + size > buf.byteLength) size = buf.byteLength - body;
      return { sampleRate: format.sampleRate, channels: format.channels, samples: decodeSamples(buf.subarray(body, body + size), format, source) };
    }
    offset = body + size + (size & 1);
  }
  throw new WavFormatError(`${source}: no data chunk found`);
}

function decodeSamples(data: Uint8Array, f: { audioFormat: number; bits: number }, source: string): Int16Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (f.audioFormat === 1 && f.bits === 16) {
    const out = new Int16Array(data.byteLength >> 1);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }
  if (f.audioFormat === 1 && f.bits === 8) {
    const out = new Int16Array(data.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = (data[i]! - 128) << 8;
    return out;
  }
  if (f.audioFormat === 3 && f.bits === 32) {
    const out = new Int16Array(data.byteLength >> 2);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(view.getFloat32(i * 4, true) * 32767)));
    return out;
  }
  throw new WavFormatError(
    `${source}: unsupported WAV encoding (format ${f.audioFormat}, ${f.bits} bits); convert it with: ffmpeg -i input -acodec pcm_s16le out.wav`,
  );
}

export function encodeWav(audio: PcmAudio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(audio.channels, 22);
  out.writeUInt32LE(audio.sampleRate, 24);
  out.writeUInt32LE(audio.sampleRate * audio.channels * 2, 28);
  out.writeUInt16LE(audio.channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i]!, 44 + i * 2);
  return out;
}

/** Average interleaved channels down to mono. */
export function toMono(audio: PcmAudio): PcmAudio {
  if (audio.channels === 1) return audio;
  return { sampleRate: audio.sampleRate, channels: 1, samples: downmixInterleaved(audio.samples, audio.channels) };
}

/**
 * agents' AudioByteStream cuts bytes into audio frames on the job's event loop: every TTS byte
 * (our streamed OpenAI-compatible speech, the ElevenLabs and OpenAI plugins) and, in the Deepgram
 * plugin, every 10 ms microphone frame on its way to the socket. agents 1.9.0 spread both buffers
 * into JS arrays on each write and re-sliced the rest after every frame; the patch
 * (patches/@livekit+agents+1.9.0.patch) copies once. This times the installed class against
 * upstream's write, kept here verbatim for the comparison, on the chunk sizes each caller sees.
 *
 * Run: npx tsx bench/audio-byte-stream.ts (also part of npm run bench)
 */
import { AudioByteStream, initializeLogger } from '@livekit/agents';

/** agents 1.9.0's AudioByteStream.write, as published (the frames themselves left out). */
class UpstreamSplitter {
  #buf = new Int8Array();
  constructor(private readonly bytesPerFrame: number) {}
  write(data: Uint8Array): number {
    const bytes = new Int8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#buf = new Int8Array([...this.#buf, ...bytes]);
    let frames = 0;
    while (this.#buf.length >= this.bytesPerFrame) {
      const frameData = this.#buf.slice(0, this.bytesPerFrame);
      this.#buf = this.#buf.slice(this.bytesPerFrame);
      frames += frameData.length > 0 ? 1 : 0;
    }
    return frames;
  }
}

const CASES = [
  { what: 'TTS, 24 kHz, 20 ms frames, 4.8 KB chunks (100 ms)', rate: 24_000, frameMs: 20, chunkBytes: 4_800 },
  { what: 'TTS, 24 kHz, 20 ms frames, 16 KB chunks', rate: 24_000, frameMs: 20, chunkBytes: 16_384 },
  { what: 'TTS, 24 kHz, 20 ms frames, 64 KB chunks (a busy loop reads big)', rate: 24_000, frameMs: 20, chunkBytes: 65_536 },
  { what: 'Deepgram send, 16 kHz, 100 ms frames, 10 ms writes', rate: 16_000, frameMs: 100, chunkBytes: 320 },
];
const AUDIO_SECONDS = 60;

export function benchAudioByteStream(): void {
  initializeLogger({ pretty: false, level: 'warn' });
  console.log(`## AudioByteStream: event-loop time to cut ${AUDIO_SECONDS} s of audio into frames (ms; best of 5)`);
  console.log(`${'case'.padEnd(66)} ${'upstream'.padStart(9)} ${'patched'.padStart(8)} ${'ratio'.padStart(6)}`);
  for (const c of CASES) {
    const bytesPerFrame = (c.rate * c.frameMs * 2) / 1000;
    const chunks = Math.ceil((c.rate * 2 * AUDIO_SECONDS) / c.chunkBytes);
    const chunk = new Uint8Array(c.chunkBytes);
    const time = (make: () => (d: Uint8Array) => unknown) => {
      let best = Infinity;
      for (let run = 0; run < 5; run++) {
        const write = make();
        const t = performance.now();
        for (let i = 0; i < chunks; i++) write(chunk);
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    const upstream = time(() => {
      const splitter = new UpstreamSplitter(bytesPerFrame);
      return (d) => splitter.write(d);
    });
    const patched = time(() => {
      const stream = new AudioByteStream(c.rate, 1, bytesPerFrame / 2);
      return (d) => stream.write(d);
    });
    console.log(`${c.what.padEnd(66)} ${upstream.toFixed(1).padStart(9)} ${patched.toFixed(1).padStart(8)} ${(patched / upstream).toFixed(3).padStart(6)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchAudioByteStream();

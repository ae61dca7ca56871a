import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import { concatPcm } from './pcm.js';

/** Resample mono PCM16 with LiveKit's native resampler (the one agents uses for TTS audio). */
export function resampleMono(pcm: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return pcm;
  const resampler = new AudioResampler(fromRate, toRate, 1, AudioResamplerQuality.HIGH);
  const out: Int16Array[] = [];
  // Feed it in 100 ms pieces: one huge frame is slower and gains nothing.
  const step = Math.round(fromRate / 10);
  for (let at = 0; at < pcm.length; at += step) {
    const piece = pcm.subarray(at, Math.min(pcm.length, at + step));
    for (const f of resampler.push(new AudioFrame(piece.slice(), fromRate, 1, piece.length))) out.push(f.data);
  }
  for (const f of resampler.flush()) out.push(f.data);
  // The native handle is not garbage-collected: left open, every call would leak one.
  resampler.close();
  return concatPcm(out);
}

/**
 * Conversions between the fakes' plain PCM and rtc-node `AudioFrame`s, the unit LiveKit plugins
 * consume and produce. Kept apart from speech.ts so the servers never load rtc-node's native module.
 */
import { AudioFrame } from '@livekit/rtc-node';
import type { SpeechAudio } from './speech.js';

/** Cuts mono audio into frames of `frameMs` (the last one may be shorter), like a room track delivers them. */
export function toAudioFrames(audio: SpeechAudio, frameMs = 20): AudioFrame[] {
  const perFrame = Math.max(1, Math.round((audio.sampleRate * frameMs) / 1000));
  const frames: AudioFrame[] = [];
  for (let start = 0; start < audio.samples.length; start += perFrame) {
    const data = audio.samples.slice(start, start + perFrame);
    frames.push(new AudioFrame(data, audio.sampleRate, 1, data.length));
  }
  return frames;
}

/** Joins mono frames back into one buffer; all frames must share one sample rate. */
export function fromAudioFrames(frames: AudioFrame[]): SpeechAudio {
  const sampleRate = frames[0]?.sampleRate ?? 0;
  let length = 0;
  for (const frame of frames) {
    if (frame.sampleRate !== sampleRate) throw new Error(`mixed sample rates: ${frame.sampleRate} and ${sampleRate}`);
    if (frame.channels !== 1) throw new Error(`expected mono frames, got ${frame.channels} channels`);
    length += frame.samplesPerChannel;
  }
  const samples = new Int16Array(length);
  let offset = 0;
  for (const frame of frames) {
    samples.set(frame.data.subarray(0, frame.samplesPerChannel), offset);
    offset += frame.samplesPerChannel;
  }
  return { sampleRate, samples };
}

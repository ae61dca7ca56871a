import { createVisemeEngine } from '../../../src/avatar/visemes/audio-engine';
import type { Blendshapes } from '../../../src/avatar/visemes/blendshapes';

/**
 * The agent's voice as the page receives it, turned into mouth shapes for the frame about to be
 * drawn: the worker's own viseme engine (src/avatar/visemes, imported, not copied) runs on the
 * received track's samples, which an AnalyserNode holds for the page (the last ~180 ms, always
 * the freshest: nothing queues behind a busy main thread, as an AudioWorklet's messages would).
 * Each animation frame feeds the engine the samples that arrived since the last one, in 10 ms
 * hops (HOP_S). The avatar's mouth therefore follows the audio this browser plays; no timing crosses the
 * network.
 */
export interface VoiceTap {
  /** The mouth for the latest audio, and whether the agent is speaking (sound within the last 400 ms). */
  current(): { mouth: Blendshapes; speaking: boolean };
  close(): void;
}

/** 10 ms hops: the mouth drawn is at most 10 ms behind the audio that arrived. */
const HOP_S = 0.01;
const SPEAKING_HOLD_MS = 400;
/** Samples the analyser keeps: a frame that comes later than this (a tab in the background) skips the gap. */
const WINDOW = 8192;

export async function tapVoice(track: MediaStreamTrack): Promise<VoiceTap> {
  const context = new AudioContext();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = WINDOW;
  // Not connected to the speakers: the page plays the voice through its <audio> element; this branch only listens.
  source.connect(analyser);
  await context.resume().catch(() => undefined);

  const rate = context.sampleRate;
  const engine = createVisemeEngine({ fps: 1 / HOP_S });
  const window = new Float32Array(WINDOW);
  const hop = new Int16Array(Math.round(rate * HOP_S));
  let filled = 0;
  let mouth: Blendshapes = {};
  let lastSoundAt = -Infinity;
  let lastAt = performance.now();
  /** Fractional samples carried to the next call, so the count over time matches the clock. */
  let owed = 0;

  const pull = () => {
    const now = performance.now();
    owed += ((now - lastAt) * rate) / 1000;
    lastAt = now;
    const fresh = Math.min(WINDOW, Math.floor(owed));
    owed -= Math.floor(owed);
    if (fresh === 0) return;
    analyser.getFloatTimeDomainData(window);
    for (let i = WINDOW - fresh; i < WINDOW; i++) {
      const s = window[i]!;
      hop[filled++] = s >= 1 ? 32767 : s <= -1 ? -32768 : Math.round(s * 32767);
      if (filled === hop.length) {
        mouth = engine.frame(hop, rate);
        if ((mouth.jawOpen ?? 0) > 0.02) lastSoundAt = now;
        filled = 0;
      }
    }
  };
  return {
    current() {
      pull();
      return { mouth, speaking: performance.now() - lastSoundAt < SPEAKING_HOLD_MS };
    },
    close() {
      source.disconnect();
      void context.close().catch(() => undefined);
    },
  };
}

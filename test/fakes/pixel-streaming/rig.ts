/**
 * Shared setup for the Unreal bridge tests (test/unreal-*.test.ts): a fake signalling server, a fake streamer, the
 * adapter attached to a stub session with an in-memory sink, and audio helpers.
 */
import { AudioFrame } from '@livekit/rtc-node';
import type { voice } from '@livekit/agents';
import { unrealAdapter } from '../../../src/avatar/unreal/adapter.js';
import { unrealProfileSchema, type UnrealProfile } from '../../../src/avatar/unreal/profiles.js';
import type { AvatarHandle } from '../../../src/avatar/contract.js';
import { MemoryMediaSink } from '../../../src/avatar/local/memory-sink.js';
import type { UnrealAvatarOutput } from '../../../src/avatar/unreal/output.js';
import { createLogger } from '../../../src/logging.js';
import { FakeSignallingServer, FakeStreamer, type FakeStreamerOptions, type SignallingOptions } from './index.js';

export const RATE = 24000;

export interface Rig {
  signalling: FakeSignallingServer;
  streamer: FakeStreamer;
  profile: UnrealProfile;
  close(): Promise<void>;
}

export async function startRig(
  opts: { profile?: Record<string, unknown>; streamer?: Partial<FakeStreamerOptions>; signalling?: SignallingOptions; startStreamer?: boolean } = {},
): Promise<Rig> {
  const signalling = await FakeSignallingServer.start(opts.signalling);
  const streamer = new FakeStreamer({ signallingUrl: signalling.streamerUrl, ...opts.streamer });
  if (opts.startStreamer !== false) await streamer.start();
  const profile = makeProfile(signalling.playerUrl, opts.profile);
  return {
    signalling,
    streamer,
    profile,
    close: async () => {
      await streamer.close();
      await signalling.close();
    },
  };
}

export function makeProfile(signallingUrl: string, extra: Record<string, unknown> = {}): UnrealProfile {
  return {
    ...unrealProfileSchema.parse({
      adapter: 'unreal',
      signallingUrl,
      sampleRate: RATE,
      connectTimeoutMs: 8000,
      stallTimeoutMs: 1500,
      reconnect: { attempts: 2, delayMs: 200, maxDelayMs: 400 },
      audioDelay: { lipSyncMs: 100, measureTransport: true },
      ...extra,
    }),
    name: 'metahuman',
  };
}

export interface Attached {
  handle: AvatarHandle;
  output: UnrealAvatarOutput;
  sink: MemoryMediaSink;
  session: { output: { audio: voice.AudioOutput | null } };
  finished: { playbackPosition: number; interrupted: boolean }[];
  started: number[];
}

export async function attach(profile: UnrealProfile): Promise<Attached> {
  const sink = new MemoryMediaSink();
  const session = { output: { audio: null as voice.AudioOutput | null } };
  const handle = await unrealAdapter(profile).attach({
    session: session as unknown as voice.AgentSession,
    sink,
    logger: createLogger({ level: 'error' }),
  });
  const output = session.output.audio as unknown as UnrealAvatarOutput;
  const finished: Attached['finished'] = [];
  const started: number[] = [];
  output.on('playbackFinished', (ev: { playbackPosition: number; interrupted: boolean }) => finished.push(ev));
  output.on('playbackStarted', (ev: { createdAt: number }) => started.push(ev.createdAt));
  return { handle, output, sink, session, finished, started };
}

/** Tone bursts: `bursts` of `onMs` at `hz`, separated by `offMs` of silence. */
export function toneBursts(bursts: number, onMs: number, offMs: number, hz = 440, amplitude = 8000, rate = RATE): Int16Array {
  const on = Math.round((onMs / 1000) * rate);
  const off = Math.round((offMs / 1000) * rate);
  const out = new Int16Array(bursts * (on + off));
  for (let b = 0; b < bursts; b++) {
    const start = b * (on + off);
    for (let i = 0; i < on; i++) out[start + i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  }
  return out;
}

/** Hands audio to the output the way AgentSession does: 20 ms frames, faster than real time, then flush. */
export async function speak(output: voice.AudioOutput, samples: Int16Array, rate = RATE): Promise<void> {
  const step = rate / 50;
  for (let at = 0; at < samples.length; at += step) {
    const piece = samples.slice(at, Math.min(samples.length, at + step));
    await output.captureFrame(new AudioFrame(piece, rate, 1, piece.length));
  }
  output.flush();
}

/** RMS per `windowMs` window. */
export function envelope(samples: Int16Array, rate: number, windowMs = 10): number[] {
  const n = Math.round((rate * windowMs) / 1000);
  const out: number[] = [];
  for (let at = 0; at + n <= samples.length; at += n) {
    let sum = 0;
    for (let i = at; i < at + n; i++) sum += samples[i]! * samples[i]!;
    out.push(Math.sqrt(sum / n));
  }
  return out;
}

/** [start, end) window indexes of runs where the envelope is above `threshold`, merging gaps shorter than `bridge`. */
export function runs(env: number[], threshold: number, bridge = 3): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  let quiet = 0;
  for (let i = 0; i < env.length; i++) {
    if (env[i]! > threshold) {
      if (start < 0) start = i;
      quiet = 0;
    } else if (start >= 0 && ++quiet > bridge) {
      out.push([start, i - quiet + 1]);
      start = -1;
      quiet = 0;
    }
  }
  if (start >= 0) out.push([start, env.length - quiet]);
  return out;
}

/**
 * The user of one benched conversation: a real rtc-node participant that joins a room with an
 * explicit dispatch to one worker, speaks through a microphone paced like a browser's, and listens
 * to the agent's audio as it arrives. Every time here is the wall clock at the user's side: when a
 * sample left the microphone, when a frame of the reply reached the ear.
 */
import { AccessToken } from 'livekit-server-sdk';
import { RoomAgentDispatch, RoomConfiguration } from '@livekit/protocol';
import { Room, type RemoteParticipant, type RemoteTrack } from '@livekit/rtc-node';
import { resampleMono } from '../../src/audio/resample.js';
import { decodeLatencyMessage, LATENCY_TOPIC, type LatencyMessage } from '../../src/metrics/latency-message.js';
import { Microphone, now, recordAudio, type ReceivedAudioFrame, type Recorder } from '../../test/e2e/viewer.js';
import { RoomEvent, sleep, waitUntil, withTimeout } from '../../test/livekit-server/testing.js';

/** RMS (PCM16) above which a received 10 ms frame is the agent's voice (its silence is digital zero). */
export const LOUD = 600;

/**
 * The longest stretch without the agent's voice (no frame above LOUD) from `from` to `to`, one still
 * open at `to` running to it, and whether the voice was heard again after the first quiet frame.
 */
export function longestQuiet(frames: readonly { at: number; rms: number }[], from: number, to: number): { ms: number; voiceAfter: boolean } {
  let longest = 0;
  let quietSince: number | undefined;
  let sawQuiet = false;
  let voiceAfter = false;
  for (const f of frames) {
    if (f.at < from || f.at > to) continue;
    if (f.rms > LOUD) {
      if (quietSince !== undefined) longest = Math.max(longest, f.at - quietSince);
      quietSince = undefined;
      if (sawQuiet) voiceAfter = true;
    } else {
      quietSince ??= f.at;
      sawQuiet = true;
    }
  }
  if (quietSince !== undefined) longest = Math.max(longest, to - quietSince);
  return { ms: longest, voiceAfter };
}

export interface CallerOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  room: string;
  /** The worker to dispatch (its LIVEKIT_AGENT_NAME). */
  agentName: string;
}

export class Caller {
  readonly room = new Room();
  readonly mic = new Microphone();
  audio: Recorder<ReceivedAudioFrame> | undefined;
  agent: RemoteParticipant | undefined;
  /** `lk.agent.state` as the user saw it change. */
  readonly states: { state: string; at: number }[] = [];
  readonly latency: { message: LatencyMessage; at: number }[] = [];

  private constructor(readonly options: CallerOptions) {}

  static async join(options: CallerOptions, timeoutMs = 150_000): Promise<Caller> {
    const caller = new Caller(options);
    await caller.#join(timeoutMs);
    return caller;
  }

  async #join(timeoutMs: number): Promise<void> {
    const { room } = this;
    room.on(RoomEvent.ParticipantAttributesChanged, (changed, participant) => {
      const state = changed['lk.agent.state'];
      if (state && participant.identity !== room.localParticipant?.identity) this.states.push({ state, at: now() });
    });
    room.on(RoomEvent.DataReceived, (payload, _participant, _kind, topic) => {
      if (topic !== LATENCY_TOPIC) return;
      try {
        this.latency.push({ message: decodeLatencyMessage(payload), at: now() });
      } catch {
        // a malformed message is the worker's bug, visible as a turn without stages
      }
    });
    room.on(RoomEvent.TrackSubscribed, (track, publication, participant) => {
      // The agent's voice: the avatar's audio track, or the agent's own microphone (voice only).
      if (publication.kind !== 1 /* TrackKind.KIND_AUDIO */) return;
      if (this.audio) return;
      this.agent = participant;
      this.audio = recordAudio(track as RemoteTrack);
    });
    // The user listens; the avatar's video is not needed here, and leaving it unsubscribed spares
    // the test server a video re-encode per room (on two cores it would compete with the workers).
    room.on(RoomEvent.TrackPublished, (publication) => {
      if (publication.kind === 1 /* TrackKind.KIND_AUDIO */) publication.setSubscribed(true);
    });
    room.registerTextStreamHandler('lk.transcription', () => undefined);
    room.registerByteStreamHandler('lk.agent.session', () => undefined);
    const token = new AccessToken(this.options.apiKey, this.options.apiSecret, { identity: `caller-${this.options.room}` });
    token.addGrant({ roomJoin: true, room: this.options.room });
    token.roomConfig = new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName: this.options.agentName })] });
    await withTimeout(room.connect(this.options.url, await token.toJwt(), { autoSubscribe: false, dynacast: false }), 15_000, `the caller to join ${this.options.room}`);
    for (const participant of room.remoteParticipants.values()) {
      for (const publication of participant.trackPublications.values()) if (publication.kind === 1) publication.setSubscribed(true);
    }
    await this.mic.publish(room);
    await waitUntil(() => this.audio !== undefined && this.states.some((s) => s.state === 'listening'), timeoutMs, `the ${this.options.agentName} agent to join ${this.options.room} and listen`);
  }

  get frames(): readonly ReceivedAudioFrame[] {
    return this.audio?.frames ?? [];
  }

  /** Plays mono PCM16; resolves the capture times of `marks` (sample indexes) and of the last sample. */
  play(samples: Int16Array, sampleRate: number, marks: number[]): { marks: Promise<number>[]; done: Promise<number> } {
    const ratio = Microphone.SAMPLE_RATE / sampleRate;
    return this.mic.play(resampleMono(samples, sampleRate, Microphone.SAMPLE_RATE), marks.map((m) => Math.round(m * ratio)));
  }

  /** First frame of the agent's voice received at or after `from`, if any yet. */
  voiceOnset(from: number): number | undefined {
    return this.frames.find((f) => f.at >= from && f.rms > LOUD)?.at;
  }

  /** Start of the first quiet stretch of `quietMs` after `from` (the voice stopped there), if seen. */
  voiceStop(from: number, quietMs: number): number | undefined {
    const frames = this.frames;
    let quietSince: number | undefined;
    for (const f of frames) {
      if (f.at < from) continue;
      if (f.rms > LOUD) quietSince = undefined;
      else if (quietSince === undefined) quietSince = f.at;
      else if (f.at - quietSince >= quietMs) return quietSince;
    }
    return undefined;
  }

  /** See longestQuiet. */
  longestQuiet(from: number, to: number): { ms: number; voiceAfter: boolean } {
    return longestQuiet(this.frames, from, to);
  }

  /** Waits until the agent is listening and its voice has been silent for `quietMs`. */
  async idle(quietMs: number, timeoutMs: number): Promise<void> {
    await waitUntil(
      () => {
        if (this.states.at(-1)?.state !== 'listening') return false;
        const frames = this.frames;
        let lastLoud = 0;
        for (let i = frames.length - 1; i >= 0; i--) {
          if (frames[i]!.rms > LOUD) {
            lastLoud = frames[i]!.at;
            break;
          }
        }
        return now() - lastLoud >= quietMs && (this.frames.at(-1)?.at ?? 0) > now() - 200;
      },
      timeoutMs,
      `the ${this.options.agentName} agent to finish speaking and listen`,
    );
  }

  async close(): Promise<void> {
    await this.audio?.stop();
    await this.mic.stop();
    await this.room.disconnect().catch(() => undefined);
    await sleep(0);
  }
}

import type { voice, VAD } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import * as silero from '@livekit/agents-plugin-silero';
import type { Logger } from 'pino';
import { attachAvatar, type AttachedAvatar } from '../avatar/registry.js';
import type { AvatarMediaSink } from '../avatar/local/media-sink.js';
import type { Config } from '../config/config.js';
import { observeTurns } from '../metrics/observe-turns.js';
import { TurnTimeline } from '../metrics/turn-timeline.js';
import { buildSession, vadOptions, ConversationAgent } from '../pipeline/session.js';
import { PacedAudioInput } from './paced-audio-input.js';

export interface OfflineSession {
  session: voice.AgentSession;
  /** The "microphone": play recordings into it. */
  input: PacedAudioInput;
  avatar: AttachedAvatar;
  timeline: TurnTimeline;
  close(): Promise<void>;
}

/**
 * The whole pipeline with no room: recordings in through a paced microphone, the avatar out into
 * a sink (memory or file). The same session, agent and avatar code as a job runs.
 *
 * Outside a job there is no shared inference process for the audio turn detector, so `model`
 * turn detection runs as `vad` here (VAD silence plus the endpointing delay).
 *
 * `room`: an avatar that publishes into a room itself (a `client` avatar's voice track) gets this
 * one; benches pass a stand-in that sends nothing. Without it the avatar must render locally.
 */
export async function startOfflineSession(opts: { config: Config; sink: AvatarMediaSink; logger: Logger; vad?: VAD; room?: Room }): Promise<OfflineSession> {
  const { config, sink, logger, room } = opts;
  const vad = opts.vad ?? (await silero.VAD.load(vadOptions(config)));
  const detection = config.turn.detection === 'model' ? 'vad' : config.turn.detection;
  const session = buildSession(config, vad, { turnDetection: detection });
  const input = new PacedAudioInput(16000);
  session.input.audio = input;
  const avatar = await attachAvatar({ session, sink, logger, ...(room ? { room } : {}) }, config.avatar.dir, config.avatar.name);
  if (!avatar.handle.localOutput && !room) {
    await avatar.close();
    await input.close();
    throw new Error(`avatar ${avatar.handle.profile.name} (${avatar.handle.profile.adapter}) renders no local video; offline runs need a local avatar such as AVATAR=default`);
  }
  const timeline = new TurnTimeline();
  observeTurns(session, timeline, avatar.timings);
  await session.start({ agent: new ConversationAgent(config, timeline) });
  return {
    session,
    input,
    avatar,
    timeline,
    close: async () => {
      await session.close().catch((err: unknown) => logger.warn({ err }, 'session close failed'));
      await input.close();
      await avatar.close();
    },
  };
}

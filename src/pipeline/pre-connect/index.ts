import type { voice } from '@livekit/agents';
import type { Room } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import { playPreConnectAudioFirst } from './input.js';
import { PreConnectAudioReceiver, type PreConnectReceiverOptions } from './receiver.js';

export { PRE_CONNECT_AUDIO_TOPIC } from './protocol.js';
export { PreConnectAudioReceiver } from './receiver.js';

/**
 * A job's side of LiveKit's pre-connect audio: register on the room before `ctx.connect()` (the
 * buffer is sent as soon as the user's page sees the agent), then `attach(session)` before
 * `session.start`. Buffers are accepted only from the participant the session links to.
 */
export function acceptPreConnectAudio(room: Room, logger: Logger, limits?: PreConnectReceiverOptions['limits']): { attach(session: voice.AgentSession): void; close(): void } {
  let session: voice.AgentSession | undefined;
  const receiver = new PreConnectAudioReceiver(room, {
    logger,
    ...(limits ? { limits } : {}),
    // RoomIO's link (agents-js keeps it on `_roomIO`); unknown until the session has started.
    linkedIdentity: () => session?._roomIO?.linkedParticipant?.identity,
  });
  receiver.register();
  return {
    attach(s) {
      session = s;
      playPreConnectAudioFirst(s, receiver);
    },
    close: () => receiver.close(),
  };
}

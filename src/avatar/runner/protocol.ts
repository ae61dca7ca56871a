import { z } from 'zod';

/**
 * LiveKit's DataStream avatar protocol, as `@livekit/agents` (Python and Node) speak it between an
 * agent and the avatar participant that renders its speech. One place for its names and shapes;
 * the sender is agents' `voice.DataStreamAudioOutput`, the receiver is ours.
 *
 * - Agent → avatar: one byte stream per speech segment on `lk.audio_stream`, addressed to the
 *   avatar's identity, with string attributes `sample_rate` and `num_channels`; the payload is raw
 *   little-endian int16 PCM, channels interleaved. Closing the stream ends the segment.
 * - Agent → avatar: RPC `lk.clear_buffer` (empty payload) on interruption: drop what is unplayed.
 * - Avatar → agent: RPC `lk.playback_started` (empty) when the first audio of a segment is heard;
 *   RPC `lk.playback_finished` with {@link PlaybackFinishedPayload} when a segment has played out
 *   or was interrupted. The agent answers "ok" (or "reject" when the caller is not its avatar).
 */
export const AUDIO_STREAM_TOPIC = 'lk.audio_stream';
export const RPC_CLEAR_BUFFER = 'lk.clear_buffer';
export const RPC_PLAYBACK_STARTED = 'lk.playback_started';
export const RPC_PLAYBACK_FINISHED = 'lk.playback_finished';

/** The token attribute that makes RoomIO treat the avatar's tracks as the agent's; its value is the agent's identity. */
export const PUBLISH_ON_BEHALF_ATTRIBUTE = 'lk.publish_on_behalf';

const integerString = (what: string, min: number, max: number) =>
  z
    .string({ error: `is missing (the sender must set it, as agents' DataStreamAudioOutput does)` })
    .regex(/^\d{1,6}$/, { error: `must be a whole number (${what})` })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: `must be at least ${min} (${what})` }).max(max, { error: `must be at most ${max} (${what})` }));

/** The attributes of an `lk.audio_stream` byte stream; other attributes pass through untouched. */
export const audioStreamAttributesSchema = z.looseObject({
  sample_rate: integerString('Hz', 8_000, 192_000),
  num_channels: integerString('channels', 1, 8),
});

export type AudioStreamAttributes = z.infer<typeof audioStreamAttributesSchema>;

/** `lk.clear_buffer` carries nothing; anything large is not from an agent. */
export const clearBufferPayloadSchema = z.string().max(1024, { error: 'lk.clear_buffer payload must be empty (at most 1 KiB tolerated)' });

/** What the avatar reports when a segment ends; agents parse snake_case keys (camelCase is tolerated there too). */
export const playbackFinishedPayloadSchema = z.object({
  /** Seconds of the segment that were heard. */
  playback_position: z.number().finite().min(0),
  interrupted: z.boolean(),
  /** Text aligned with what was heard, when the avatar knows it; ours does not. */
  synchronized_transcript: z.string().nullable(),
});

export type PlaybackFinishedPayload = z.infer<typeof playbackFinishedPayloadSchema>;

export function playbackFinishedPayload(position: number, interrupted: boolean): string {
  const payload: PlaybackFinishedPayload = {
    playback_position: Math.max(0, Number.isFinite(position) ? position : 0),
    interrupted,
    synchronized_transcript: null,
  };
  return JSON.stringify(playbackFinishedPayloadSchema.parse(payload));
}

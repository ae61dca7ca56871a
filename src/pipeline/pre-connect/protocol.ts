import { z } from 'zod';

/**
 * LiveKit's pre-connect audio buffer, as livekit-client (LocalParticipant, `preConnectBuffer`)
 * sends it and LiveKit's Python agents read it (voice/room_io/_pre_connect_audio.py): the user's
 * microphone, recorded from the click until the agent subscribes to that track, sent once the
 * agent is active as one byte stream to the agent on this topic. The payload is what the
 * browser's MediaRecorder made (mimeType `audio/webm;codecs=opus`, or `video/mp4` on iOS), or raw
 * PCM16 when no opus mime type is given (Python's rule).
 */
export const PRE_CONNECT_AUDIO_TOPIC = 'lk.agent.pre-connect-audio-buffer';

/**
 * livekit.AudioTrackFeature.TF_PRECONNECT_BUFFER: livekit-client sets it on a microphone it records a
 * pre-connect buffer for (rtc-node: TrackPublishOptions `preconnectBuffer`). The enum is not exported
 * by rtc-node, and @livekit/protocol is not a runtime dependency.
 */
export const TF_PRECONNECT_BUFFER = 6;

/** The stream's attributes; the client writes numbers as strings. */
export const preConnectAttributesSchema = z.object({
  trackId: z.string().regex(/^TR_[A-Za-z0-9]{1,64}$/, { error: 'trackId must be the microphone track sid (TR_…)' }),
  sampleRate: z.coerce.number({ error: 'sampleRate must be a number' }).int().min(8_000).max(96_000),
  channels: z.coerce.number({ error: 'channels must be a number' }).int().min(1).max(2),
});
export type PreConnectAttributes = z.infer<typeof preConnectAttributesSchema>;

export interface PreConnectLimits {
  /** Bytes received before the stream is refused. The client records at most 10 s (~60 kB of opus, ~1 MB of 48 kHz PCM). */
  maxBytes: number;
  /** Decoded audio longer than this is refused: nobody asks a 15-second question before the agent is there. */
  maxDurationMs: number;
  /** A stream not finished this long after it started is given up (the client closes it when the agent subscribes). */
  readTimeoutMs: number;
  /** A buffer finished longer than this before the user's microphone reached the session is stale: dropped, not answered. */
  maxAgeMs: number;
  /**
   * When the microphone reaches the session before any buffer has started, live audio is held this
   * long for one to begin (the client starts sending when it sees the agent, about when the agent
   * subscribes). Held audio is delayed, never lost.
   */
  headerGraceMs: number;
  /**
   * The same wait for a microphone whose publication announces a buffer (livekit-client publishes
   * a track it records for with the TF_PRECONNECT_BUFFER audio feature): its buffer is coming, so
   * it is waited for longer, as LiveKit's Python agents do (`pre_connect_audio_timeout`, 3 s). The
   * client sends once it sees the agent active, which on a slow link or a busy worker can be well
   * after the session opened the microphone.
   */
  announcedWaitMs: number;
}

export const DEFAULT_PRE_CONNECT_LIMITS: PreConnectLimits = {
  maxBytes: 2 * 1024 * 1024,
  maxDurationMs: 15_000,
  readTimeoutMs: 5_000,
  maxAgeMs: 10_000,
  headerGraceMs: 750,
  announcedWaitMs: 3_000,
};

/** Python's test: the browser's opus (webm/ogg container or bare) needs decoding; anything else is PCM16. */
export function isEncoded(mimeType: string | undefined): boolean {
  if (!mimeType) return false;
  return mimeType === 'audio/opus' || mimeType.includes('codecs=opus') || /^(audio|video)\/(webm|ogg|mp4)/.test(mimeType);
}

import { z } from 'zod';
import { localVideo, profileCommon } from '../../config/profile-common.js';

/**
 * The `unreal` avatar: a MetaHuman (or any Unreal scene) rendered by Unreal Engine and streamed
 * by Pixel Streaming; the worker joins as a Pixel Streaming player, sends the agent's speech as
 * the player's microphone and republishes Unreal's video into the room. See docs/unreal.md.
 */
export const unrealProfileSchema = z.object({
  adapter: z.literal('unreal'),
  ...profileCommon,
  ...localVideo,
  /** Where Unreal's video is published, as the worker sees it (one tick of republished audio per 1/fps). */
  fps: localVideo.fps.default(30),
  /**
   * The signalling server's player endpoint (Epic's SignallingWebServer, player port, default 80),
   * e.g. ws://unreal-host:80. Not the streamer port (8888) that Unreal itself connects to.
   */
  signallingUrl: z.url({ protocol: /^wss?$/, error: 'must be a ws:// or wss:// URL (the signalling server player port)' }),
  /**
   * The streamer to subscribe to (Unreal's -PixelStreamingID). Omitted: the only streamer on the
   * server; with several and none named, attach fails and says which exist.
   */
  streamerId: z.string().min(1).max(200).optional(),
  /** Signalling, offer, ICE and the first video frame must all be done within this. */
  connectTimeoutMs: z.number().int().min(1000).max(120_000).default(15_000),
  /** No video frame for this long on a live connection counts as a lost connection. */
  stallTimeoutMs: z.number().int().min(500).max(60_000).default(4_000),
  /** Signalling keepalive: a ping this often; no pong before the next one ends the connection. */
  keepaliveMs: z.number().int().min(500).max(120_000).default(10_000),
  reconnect: z
    .object({
      /** Tries after a lost connection before the avatar is given up (the registry then falls back). */
      attempts: z.number().int().min(0).max(20).default(3),
      /** Wait before the first retry; doubles per retry up to maxDelayMs. */
      delayMs: z.number().int().min(0).max(60_000).default(1_000),
      maxDelayMs: z.number().int().min(0).max(120_000).default(8_000),
    })
    .strict()
    .default({ attempts: 3, delayMs: 1_000, maxDelayMs: 8_000 }),
  /**
   * How far the agent's voice is held back so it lands with Unreal's lips. Unreal shows the mouth
   * for a sound some time after it received that sound: its lip-sync pipeline (`lipSyncMs`,
   * configured: Audio2Face-3D through the ACE plugin is typically 100-250 ms) plus the network
   * both ways and the receive jitter buffer (measured from WebRTC stats when `measureTransport`).
   */
  audioDelay: z
    .object({
      lipSyncMs: z.number().int().min(0).max(2_000).default(150),
      measureTransport: z.boolean().default(true),
      /** The total is clamped to this (a bad measurement must not silence the agent for seconds). */
      maxMs: z.number().int().min(0).max(3_000).default(1_000),
    })
    .strict()
    .default({ lipSyncMs: 150, measureTransport: true, maxMs: 1_000 }),
  /**
   * Also send the viseme engine's ARKit mouth blendshapes over the data channel (UIInteraction
   * `{"type":"blendshapes",...}`), for projects that animate the face from them rather than from
   * the microphone audio.
   */
  blendshapes: z.boolean().default(false),
  /**
   * Emotions and gestures the Unreal project knows: the LLM gets tools to trigger them (see
   * unrealExpressionTools), each sent as a UIInteraction. Empty: no tools.
   */
  expressions: z
    .object({
      emotions: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/)).max(32).default([]),
      gestures: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/)).max(32).default([]),
    })
    .strict()
    .default({ emotions: [], gestures: [] }),
  /** Sent once over the data channel when a connection opens (UIInteraction), e.g. to pick a character. */
  initialUIInteraction: z.record(z.string(), z.unknown()).optional(),
});

export type UnrealProfile = z.infer<typeof unrealProfileSchema> & { name: string };

import { LATENCY_TOPIC, latencyMessageSchema, type LatencyMessage } from '../../../src/metrics/latency-message';

export { LATENCY_TOPIC, type LatencyMessage };

/**
 * A received `avatar.latency` packet, or nothing when it is not one we understand (another
 * version, a malformed payload): the panel then shows nothing rather than a guess.
 */
export function parseLatencyPacket(payload: Uint8Array): LatencyMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  const parsed = latencyMessageSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

import { z } from 'zod';
import { callProvider } from './http.js';

const palSchema = z.object({ pal_id: z.string().min(1) }).loose();

export interface TavusPalOptions {
  apiKey: string;
  /** The face the PAL shows by default (a stock face id or your own). */
  defaultFaceId: string;
  name?: string;
  /** Default https://tavusapi.com. */
  apiUrl?: string;
}

/**
 * Creates, once per account, the Tavus PAL (formerly persona) this worker needs: `pipeline_mode:
 * "echo"` (Tavus renders our speech and runs no conversation of its own) with the `livekit`
 * transport. Put the returned id in the profile's `palId`.
 */
export async function createTavusEchoPal(opts: TavusPalOptions): Promise<string> {
  const base = (opts.apiUrl ?? 'https://tavusapi.com').replace(/\/+$/, '');
  const { pal_id } = await callProvider({
    provider: 'Tavus',
    action: 'create PAL',
    keyEnv: 'TAVUS_API_KEY',
    url: `${base}/v2/pals`,
    headers: { 'x-api-key': opts.apiKey },
    json: {
      pal_name: opts.name ?? 'voice-avatar-worker echo',
      default_face_id: opts.defaultFaceId,
      pipeline_mode: 'echo',
      layers: { transport: { transport_type: 'livekit' } },
    },
    schema: palSchema,
    timeoutMs: 15_000,
    secrets: [opts.apiKey],
  });
  return pal_id;
}

/**
 * What the worker and the page say to each other about an avatar the viewer's browser draws (the
 * `client` adapter). Browser-safe: zod only, no Node. The worker (src/avatar/client/adapter.ts,
 * src/avatar/registry.ts) and the page (web/src/avatar/) both import this one module, so the two
 * sides cannot drift apart.
 *
 * - The worker describes the avatar in the agent participant's attributes: `avatar.profile`,
 *   `avatar.adapter`, `avatar.fallback_reason` (every adapter) and, for the client adapter,
 *   `avatar.client`: a versioned JSON {@link ClientAvatarSpec}.
 * - The page answers by RPC to the agent: {@link RPC_CLIENT_READY} when it can draw the spec's
 *   renderer (it lists every renderer it can draw), {@link RPC_CLIENT_FAILED} when drawing failed
 *   (no WebGL, an asset that does not load). A user's token may not set its own attributes, so
 *   the page's side travels as RPC; the agent's side as attributes, which a late joiner also sees.
 * - Nobody answering within the profile's `announceTimeoutMs` (any other front end), or a failure,
 *   sends the worker down the profile's fallback chain, to server-rendered video if need be.
 */
import { z } from 'zod';

/** Version of the `avatar.client` attribute and the RPC payloads. A page ignores specs of other versions. */
export const CLIENT_AVATAR_VERSION = 1;

/** The agent participant's avatar attributes. */
export const AVATAR_ATTRIBUTES = {
  profile: 'avatar.profile',
  adapter: 'avatar.adapter',
  fallbackReason: 'avatar.fallback_reason',
  /** JSON {@link ClientAvatarSpec}; empty while the avatar showing is not drawn by the viewer. */
  client: 'avatar.client',
} as const;

/** page → agent: "I can draw it" (payload {@link ClientReady}). */
export const RPC_CLIENT_READY = 'avatar.client.ready';
/** page → agent: "drawing it failed" (payload {@link ClientFailed}). */
export const RPC_CLIENT_FAILED = 'avatar.client.failed';

export const CLIENT_RENDERERS = ['face2d', 'gltf', 'splat'] as const;
export type ClientRenderer = (typeof CLIENT_RENDERERS)[number];
export const clientRendererSchema = z.enum(CLIENT_RENDERERS);

const hex = z.string().regex(/^#[0-9a-fA-F]{6}$/);
/** Colours of the built-in face (the worker's and the page's face2d): shades are derived from them. */
export const faceStyleSchema = z
  .object({ skin: hex.optional(), hair: hex.optional(), eyes: hex.optional(), shirt: hex.optional(), background: hex.optional() })
  .strict();

/** What the page is asked to draw. */
export const clientAvatarSpecSchema = z.object({
  v: z.literal(CLIENT_AVATAR_VERSION),
  /** The profile's name: a page's answers name it, so a late answer about a previous avatar is not taken for this one. */
  profile: z.string().min(1).max(64),
  renderer: clientRendererSchema,
  /** URL of the model (gltf: a .glb; splat: LAM's avatar archive), as the viewer's browser fetches it. */
  asset: z.string().max(2000).optional(),
  /** Blink and idle motion seed (face2d), as the builtin face's. */
  seed: z.number().int().min(0).default(1),
  style: faceStyleSchema.default({}),
});
export type ClientAvatarSpec = z.infer<typeof clientAvatarSpecSchema>;

export const clientReadySchema = z.object({
  v: z.literal(CLIENT_AVATAR_VERSION),
  profile: z.string().min(1).max(64),
  /** Every renderer this page can draw. */
  renderers: z.array(clientRendererSchema).max(CLIENT_RENDERERS.length),
});
export type ClientReady = z.infer<typeof clientReadySchema>;

export const clientFailedSchema = z.object({
  v: z.literal(CLIENT_AVATAR_VERSION),
  profile: z.string().min(1).max(64),
  renderer: clientRendererSchema,
  reason: z.string().max(500),
});
export type ClientFailed = z.infer<typeof clientFailedSchema>;

/** The spec in an agent's attributes, or undefined (none, another version, malformed). */
export function readClientAvatarSpec(attributes: Readonly<Record<string, string>> | undefined): ClientAvatarSpec | undefined {
  return parseJson(attributes?.[AVATAR_ATTRIBUTES.client], clientAvatarSpecSchema);
}

export function parseJson<T>(text: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (!text) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

import { z } from 'zod';
import { profileCommon } from '../../config/profile-common.js';

/**
 * Profile variants of the remote family: a provider's avatar joins the room as its own
 * participant and publishes the talking video. Each variant's `apiUrl` defaults to the provider's
 * real API base and exists so tests (and self-hosted gateways) can point it elsewhere.
 */

const sampleRate = z.union([z.literal(16000), z.literal(24000), z.literal(48000)]);

/** A LiveKit participant identity (what the avatar joins as). */
const identity = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, { error: 'must be a participant identity (letters, digits, _ . : -)' });

/** Fields every remote provider shares. */
function remoteCommon(defaults: { apiUrl: string; sampleRate: 16000 | 24000 | 48000 }) {
  return {
    ...profileCommon,
    /** The provider's API base; change it only for a proxy, a gateway or a test double. */
    apiUrl: z.url({ protocol: /^https?$/ }).default(defaults.apiUrl),
    /** How long the avatar may take to join the room and publish video before we fall back. */
    joinTimeoutMs: z.number().int().min(1000).max(120_000).default(20_000),
    /** The avatar participant's identity; `<provider>-avatar-agent` when absent. */
    avatarIdentity: identity.optional(),
    /** The avatar participant's display name; its identity when absent. */
    avatarName: z.string().min(1).max(80).optional(),
    /** The rate the agent's speech is sent at (what the provider expects). */
    sampleRate: sampleRate.default(defaults.sampleRate),
  };
}

export const tavusProfileSchema = z.object({
  adapter: z.literal('tavus'),
  ...remoteCommon({ apiUrl: 'https://tavusapi.com', sampleRate: 24000 }),
  /** The PAL (formerly persona): echo mode with the livekit transport; create one with src/avatar/remote/tavus-pal-cli.ts. */
  palId: z.string().min(1),
  /** The face (formerly replica); the PAL's default face when absent. */
  faceId: z.string().min(1).optional(),
  /** Shown in Tavus' dashboard; a generated name when absent. */
  conversationName: z.string().min(1).max(120).optional(),
});

export const liveAvatarProfileSchema = z.object({
  adapter: z.literal('liveavatar'),
  ...remoteCommon({ apiUrl: 'https://api.liveavatar.com', sampleRate: 24000 }),
  avatarId: z.string().min(1),
  /** Sandbox sessions are free and end after about a minute. */
  sandbox: z.boolean().default(false),
  videoQuality: z.enum(['very_high', 'high', 'medium', 'low']).optional(),
  /** Seconds between `session.keep_alive` messages on the websocket. */
  keepAliveSec: z.number().int().min(5).max(300).default(60),
});

export const hedraProfileSchema = z
  .object({
    adapter: z.literal('hedra'),
    ...remoteCommon({ apiUrl: 'https://api.hedra.com', sampleRate: 16000 }),
    avatarId: z.string().min(1).optional(),
    /** A JPEG to animate instead of a saved avatar: a path, absolute or relative to the worker's working directory. */
    avatarImage: z.string().min(1).optional(),
  })
  .refine((p) => Boolean(p.avatarId) !== Boolean(p.avatarImage), { error: 'set exactly one of avatarId or avatarImage' });

export const beyProfileSchema = z.object({
  adapter: z.literal('bey'),
  ...remoteCommon({ apiUrl: 'https://api.bey.dev', sampleRate: 24000 }),
  /** A Beyond Presence avatar id (their stock avatar "Ege" is b9be11b8-89fb-4227-8f86-4a881393cbdb). */
  avatarId: z.string().min(1),
});

export const anamProfileSchema = z.object({
  adapter: z.literal('anam'),
  ...remoteCommon({ apiUrl: 'https://api.anam.ai', sampleRate: 24000 }),
  avatarId: z.string().min(1),
  /** The ephemeral persona's name, shown in Anam's session list. */
  personaName: z.string().min(1).max(80).default('voice-avatar-worker'),
  avatarModel: z.string().min(1).optional(),
});

export const lemonSliceProfileSchema = z
  .object({
    adapter: z.literal('lemonslice'),
    ...remoteCommon({ apiUrl: 'https://lemonslice.com', sampleRate: 16000 }),
    agentId: z.string().min(1).optional(),
    /** A public image URL to animate instead of a saved agent. */
    agentImageUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Nudges the avatar's movements and expressions while it speaks / while idle. */
    agentPrompt: z.string().max(1000).optional(),
    agentIdlePrompt: z.string().max(1000).optional(),
    /** Seconds without speech after which LemonSlice ends the session on its own (caps an orphaned session's cost). */
    idleTimeoutSec: z.number().int().min(10).max(3600).optional(),
  })
  .refine((p) => Boolean(p.agentId) !== Boolean(p.agentImageUrl), { error: 'set exactly one of agentId or agentImageUrl' });

export const selfhostedProfileSchema = z.object({
  adapter: z.literal('selfhosted'),
  ...remoteCommon({ apiUrl: 'http://127.0.0.1:8089', sampleRate: 24000 }),
  /** Where to POST {url, token, room}; `apiUrl` + /launch when absent. Sent with `Authorization: Bearer $AVATAR_LAUNCH_SECRET`. */
  launchUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Hold `playbackStarted` until the runner calls lk.playback_started (true for runners that do). */
  waitPlaybackStart: z.boolean().default(false),
});

export const remoteProfileSchemas = [
  tavusProfileSchema,
  liveAvatarProfileSchema,
  hedraProfileSchema,
  beyProfileSchema,
  anamProfileSchema,
  lemonSliceProfileSchema,
  selfhostedProfileSchema,
] as const;

export const remoteProfileSchema = z.discriminatedUnion('adapter', remoteProfileSchemas);

export type RemoteProfile = z.infer<typeof remoteProfileSchema> & { name: string };
export type RemoteProvider = RemoteProfile['adapter'];
export type TavusProfile = Extract<RemoteProfile, { adapter: 'tavus' }>;
export type LiveAvatarProfile = Extract<RemoteProfile, { adapter: 'liveavatar' }>;
export type HedraProfile = Extract<RemoteProfile, { adapter: 'hedra' }>;
export type BeyProfile = Extract<RemoteProfile, { adapter: 'bey' }>;
export type AnamProfile = Extract<RemoteProfile, { adapter: 'anam' }>;
export type LemonSliceProfile = Extract<RemoteProfile, { adapter: 'lemonslice' }>;
export type SelfhostedProfile = Extract<RemoteProfile, { adapter: 'selfhosted' }>;

export const REMOTE_ADAPTERS: readonly RemoteProvider[] = ['tavus', 'liveavatar', 'hedra', 'bey', 'anam', 'lemonslice', 'selfhosted'];

export function isRemoteProfile(profile: { adapter: string }): profile is RemoteProfile {
  return (REMOTE_ADAPTERS as readonly string[]).includes(profile.adapter);
}

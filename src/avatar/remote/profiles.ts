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

/**
 * How long each step of an avatar's start may take before we give up on it and fall back. The
 * official plugins set no deadline at all, and providers' cold starts of 30-60 s happen (a
 * rendering GPU being brought up), so the defaults leave room for those: a deadline ends a start
 * that is not going to work, never one that was about to.
 */
export const START_DEADLINE_DEFAULTS = {
  /** The provider's session call(s) (HTTP), from the first request to the last answer. */
  launchTimeoutMs: 30_000,
  /** From the provider's answer to its avatar participant being in the room (its cold start). */
  joinTimeoutMs: 90_000,
  /** From the avatar being in the room to it publishing its video track. */
  firstVideoTimeoutMs: 30_000,
} as const;

const deadline = (max: number, fallback: number) => z.number().int().min(1000).max(max).default(fallback);

/** Fields every remote provider shares. */
function remoteCommon(defaults: { apiUrl: string; sampleRate: 16000 | 24000 | 48000 }) {
  return {
    ...profileCommon,
    /** The provider's API base; change it only for a proxy, a gateway or a test double. */
    apiUrl: z.url({ protocol: /^https?$/ }).default(defaults.apiUrl),
    /** How long the provider's session call(s) may take. */
    launchTimeoutMs: deadline(120_000, START_DEADLINE_DEFAULTS.launchTimeoutMs),
    /** How long the avatar may take to join the room once the provider has answered. */
    joinTimeoutMs: deadline(600_000, START_DEADLINE_DEFAULTS.joinTimeoutMs),
    /** How long the avatar may take, once in the room, to publish its video. */
    firstVideoTimeoutMs: deadline(300_000, START_DEADLINE_DEFAULTS.firstVideoTimeoutMs),
    /** The avatar participant's identity; `<provider>-avatar-agent` when absent. */
    avatarIdentity: identity.optional(),
    /** The avatar participant's display name; its identity when absent. */
    avatarName: z.string().min(1).max(80).optional(),
    /** The rate the agent's speech is sent at (what the provider expects). */
    sampleRate: sampleRate.default(defaults.sampleRate),
  };
}

/** Beyond Presence's stock avatar "Ege", what LiveKit's Bey plugins use when none is given. */
export const BEY_STOCK_AVATAR_ID = 'b9be11b8-89fb-4227-8f86-4a881393cbdb';

/** Tavus' stock PAL (echo mode, LiveKit transport), what LiveKit's Tavus plugins use when none is given. */
export const TAVUS_STOCK_PAL_ID = 'pb87e71797da';

export const tavusProfileSchema = z.object({
  adapter: z.literal('tavus'),
  ...remoteCommon({ apiUrl: 'https://tavusapi.com', sampleRate: 24000 }),
  /**
   * The PAL (formerly persona): echo mode with the livekit transport; create one with
   * src/avatar/remote/tavus-pal-cli.ts. Tavus' stock PAL when absent (as LiveKit's plugins do).
   */
  palId: z.string().min(1).default(TAVUS_STOCK_PAL_ID),
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

/**
 * Hedra's realtime avatar API was switched off upstream on 2026-04-15 (LiveKit's Hedra plugins
 * throw "The Hedra realtime avatar service has been disabled" in their constructor). A Hedra
 * profile is refused when it is loaded, with this message, so it can neither start a call nor sit
 * in a fallback chain. The variant stays in the union only to say so.
 */
export const HEDRA_DISABLED_MESSAGE =
  "names Hedra, whose realtime avatar API was switched off upstream on 2026-04-15 (LiveKit's own Hedra plugins refuse to start); change adapter to another streaming provider (tavus, liveavatar, bey, anam, lemonslice, simli, did, runway, synthesia, trugen, keyframe, avatario, protoface, bithuman or avatartalk) or to builtin, and remove this profile from every fallback list";

export const hedraProfileSchema = z
  .object({ adapter: z.literal('hedra') })
  .loose()
  .superRefine((_profile, ctx) => {
    ctx.addIssue({ code: 'custom', message: HEDRA_DISABLED_MESSAGE, path: ['adapter'] });
  });

export const beyProfileSchema = z.object({
  adapter: z.literal('bey'),
  ...remoteCommon({ apiUrl: 'https://api.bey.dev', sampleRate: 24000 }),
  /** A Beyond Presence avatar id; their stock avatar "Ege" when absent, as LiveKit's Bey plugins. */
  avatarId: z.string().min(1).default(BEY_STOCK_AVATAR_ID),
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

/** Simli's default emotion (used with Trinity faces), as LiveKit's Simli plugin sends it. */
export const SIMLI_DEFAULT_EMOTION_ID = '92f24a0c-f046-45df-8df0-af7449c04571';

export const simliProfileSchema = z.object({
  adapter: z.literal('simli'),
  ...remoteCommon({ apiUrl: 'https://api.simli.ai', sampleRate: 16000 }),
  /** A Simli face id. */
  faceId: z.string().min(1),
  /** The face's emotion (Trinity faces); sent as `faceId/emotionId`. */
  emotionId: z.string().min(1).default(SIMLI_DEFAULT_EMOTION_ID),
  /** Simli ends the session after this many seconds, speaking or not. */
  maxSessionLengthSec: z.number().int().min(10).max(86_400).default(600),
  /** Simli ends the session after this many seconds without speech. */
  maxIdleTimeSec: z.number().int().min(5).max(3600).default(30),
});

export const didProfileSchema = z.object({
  adapter: z.literal('did'),
  ...remoteCommon({ apiUrl: 'https://api.d-id.com', sampleRate: 24000 }),
  /** A D-ID agent id (made in D-ID's studio or API). */
  agentId: z.string().min(1),
});

export const runwayProfileSchema = z
  .object({
    adapter: z.literal('runway'),
    ...remoteCommon({ apiUrl: 'https://api.dev.runwayml.com', sampleRate: 16000 }),
    /** An avatar you made in Runway; or `presetId` for one of Runway's presets. */
    avatarId: z.string().min(1).optional(),
    presetId: z.string().min(1).optional(),
    /** Runway ends the session after this many seconds. */
    maxDurationSec: z.number().int().min(10).max(86_400).optional(),
  })
  .refine((p) => Boolean(p.avatarId) !== Boolean(p.presetId), { error: 'set exactly one of avatarId or presetId' });

export const synthesiaProfileSchema = z.object({
  adapter: z.literal('synthesia'),
  ...remoteCommon({ apiUrl: 'https://developers.synthesia.io', sampleRate: 24000 }),
  /** One to five gallery avatar ids (`av_` is prefixed when missing); the first is shown. */
  avatarIds: z.array(z.string().min(1)).min(1).max(5),
});

export const trugenProfileSchema = z.object({
  adapter: z.literal('trugen'),
  ...remoteCommon({ apiUrl: 'https://api.trugen.ai', sampleRate: 24000 }),
  /** A Trugen avatar id; Trugen's stock avatar when absent, as LiveKit's Trugen plugins. */
  avatarId: z.string().min(1).default('7d881c1b'),
});

export const keyframeProfileSchema = z
  .object({
    adapter: z.literal('keyframe'),
    ...remoteCommon({ apiUrl: 'https://api.keyframelabs.com', sampleRate: 24000 }),
    personaId: z.string().min(1).optional(),
    personaSlug: z.string().min(1).optional(),
  })
  .refine((p) => Boolean(p.personaId) !== Boolean(p.personaSlug), { error: 'set exactly one of personaId or personaSlug' });

export const avatarioProfileSchema = z.object({
  adapter: z.literal('avatario'),
  ...remoteCommon({ apiUrl: 'https://avatario.ai/api/sdk', sampleRate: 24000 }),
  /** An Avatario face id (stock or your own). */
  avatarId: z.string().min(1),
  videoWidth: z.number().int().min(128).max(3840).default(1280),
  videoHeight: z.number().int().min(128).max(2160).default(720),
  /** A public image URL shown behind the avatar. */
  backgroundUrl: z.url({ protocol: /^https?$/ }).optional(),
});

/** Protoface's stock avatar, what LiveKit's Protoface plugins use when none is given. */
export const PROTOFACE_STOCK_AVATAR_ID = 'av_stock_001';

export const protofaceProfileSchema = z.object({
  adapter: z.literal('protoface'),
  ...remoteCommon({ apiUrl: 'https://api.protoface.com', sampleRate: 16000 }),
  avatarId: z.string().min(1).default(PROTOFACE_STOCK_AVATAR_ID),
  /** Protoface ends the session after this many seconds. */
  maxDurationSec: z.number().int().min(10).max(86_400).optional(),
});

/** The models a bitHuman cloud avatar runs as (its start call's `model`). */
export const BITHUMAN_MODELS = ['essence-1', 'essence-2', 'expression-1', 'expression-2'] as const;

/**
 * bitHuman's cloud avatar, started as bitHuman documents it for a LiveKit room ("Cloud avatar in
 * your room"): the account's API secret travels only in the start call's `api-secret` header,
 * never into the room (LiveKit's Python plugin copies it into the avatar's participant attributes).
 */
export const bithumanProfileSchema = z
  .object({
    adapter: z.literal('bithuman'),
    ...remoteCommon({ apiUrl: 'https://api.bithuman.ai', sampleRate: 16000 }),
    /** A bitHuman agent code, e.g. `A23WJF0199`. */
    agentId: z.string().min(1).optional(),
    /** A public image to animate instead of an agent (Expression 1 only). */
    imageUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** The model the session runs as; the agent's own when absent (bitHuman picks). */
    model: z.enum(BITHUMAN_MODELS).optional(),
  })
  .refine((p) => Boolean(p.agentId || p.imageUrl), { error: 'set agentId (a bitHuman agent code), or imageUrl to animate a photo with model expression-1', path: ['agentId'] })
  .refine((p) => Boolean(p.agentId) || !p.model || p.model === 'expression-1', {
    error: 'a photo (imageUrl without agentId) runs on model expression-1 only (bitHuman refuses it on the others); set model to expression-1, or make an agent from the photo and set agentId',
    path: ['model'],
  });

/** AvatarTalk's defaults, as LiveKit's AvatarTalk plugin sends them. */
export const AVATARTALK_DEFAULT_AVATAR = 'japanese_man';
export const AVATARTALK_DEFAULT_EMOTION = 'expressive';

/**
 * AvatarTalk: its avatar (`avatartalk-agent`) publishes the video; a second participant of
 * AvatarTalk's, `listener`, hears the speech over DataStream and answers the playback RPCs.
 */
export const avatarTalkProfileSchema = z.object({
  adapter: z.literal('avatartalk'),
  ...remoteCommon({ apiUrl: 'https://api.avatartalk.ai', sampleRate: 16000 }),
  /** An AvatarTalk avatar name. */
  avatar: z.string().min(1).default(AVATARTALK_DEFAULT_AVATAR),
  /** The avatar's emotion. */
  emotion: z.string().min(1).default(AVATARTALK_DEFAULT_EMOTION),
});

/**
 * LiveKit Inference avatars (agents 1.9's `inference.AvatarSession`): LiveKit's gateway starts the
 * provider's session with LiveKit's own account and mints the avatar's room token; the worker
 * holds no provider key, only its LiveKit key pair (which signs the gateway call).
 */
export const inferenceProfileSchema = z
  .object({
    adapter: z.literal('inference'),
    ...remoteCommon({ apiUrl: 'https://agent-gateway.livekit.cloud/v1', sampleRate: 16000 }),
    /** `<provider>` or `<provider>/<avatar id>`, e.g. `lemonslice/agent_abc`. */
    model: z.string().regex(/^[a-z0-9_-]+(\/.+)?$/, { error: 'must be <provider> or <provider>/<avatar id>, e.g. lemonslice/agent_abc' }),
    /** An image to animate instead of a catalog avatar (LemonSlice). */
    imageUrl: z.url({ protocol: /^https?$/ }).optional(),
    prompt: z.string().max(1000).optional(),
    idlePrompt: z.string().max(1000).optional(),
    /** Seconds without speech after which the provider ends the session; the gateway clamps it. */
    idleTimeoutSec: z.number().int().min(10).max(3600).optional(),
  })
  .refine((p) => !(p.model.includes('/') && p.imageUrl), { error: 'set either an avatar id in model (<provider>/<id>) or imageUrl, not both' });

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
  beyProfileSchema,
  anamProfileSchema,
  lemonSliceProfileSchema,
  simliProfileSchema,
  didProfileSchema,
  runwayProfileSchema,
  synthesiaProfileSchema,
  trugenProfileSchema,
  keyframeProfileSchema,
  avatarioProfileSchema,
  protofaceProfileSchema,
  bithumanProfileSchema,
  avatarTalkProfileSchema,
  inferenceProfileSchema,
  selfhostedProfileSchema,
] as const;

/** Adapters that once were remote providers and are now refused at profile load, with the reason. */
export const retiredRemoteProfileSchemas = [hedraProfileSchema] as const;

/** A profile of a provider we support, as parsed. */
type RemoteProfileData = z.infer<(typeof remoteProfileSchemas)[number]>;

/**
 * Parses one remote profile. A retired adapter (Hedra) is in the union only to be refused with its
 * reason, so what parses is always a supported provider's profile.
 */
export const remoteProfileSchema: z.ZodType<RemoteProfileData, z.input<(typeof remoteProfileSchemas)[number]> | { adapter: 'hedra' }> = z.discriminatedUnion('adapter', [
  ...remoteProfileSchemas,
  ...retiredRemoteProfileSchemas,
]) as never;

export type RemoteProfile = RemoteProfileData & { name: string };
export type RemoteProvider = RemoteProfile['adapter'];
export type TavusProfile = Extract<RemoteProfile, { adapter: 'tavus' }>;
export type LiveAvatarProfile = Extract<RemoteProfile, { adapter: 'liveavatar' }>;
export type BeyProfile = Extract<RemoteProfile, { adapter: 'bey' }>;
export type AnamProfile = Extract<RemoteProfile, { adapter: 'anam' }>;
export type LemonSliceProfile = Extract<RemoteProfile, { adapter: 'lemonslice' }>;
export type SelfhostedProfile = Extract<RemoteProfile, { adapter: 'selfhosted' }>;
export type SimliProfile = Extract<RemoteProfile, { adapter: 'simli' }>;
export type DidProfile = Extract<RemoteProfile, { adapter: 'did' }>;
export type RunwayProfile = Extract<RemoteProfile, { adapter: 'runway' }>;
export type SynthesiaProfile = Extract<RemoteProfile, { adapter: 'synthesia' }>;
export type TrugenProfile = Extract<RemoteProfile, { adapter: 'trugen' }>;
export type KeyframeProfile = Extract<RemoteProfile, { adapter: 'keyframe' }>;
export type AvatarioProfile = Extract<RemoteProfile, { adapter: 'avatario' }>;
export type ProtofaceProfile = Extract<RemoteProfile, { adapter: 'protoface' }>;
export type InferenceProfile = Extract<RemoteProfile, { adapter: 'inference' }>;
export type BithumanProfile = Extract<RemoteProfile, { adapter: 'bithuman' }>;
export type AvatarTalkProfile = Extract<RemoteProfile, { adapter: 'avatartalk' }>;

export const REMOTE_ADAPTERS: readonly RemoteProvider[] = [
  'tavus',
  'liveavatar',
  'bey',
  'anam',
  'lemonslice',
  'simli',
  'did',
  'runway',
  'synthesia',
  'trugen',
  'keyframe',
  'avatario',
  'protoface',
  'bithuman',
  'avatartalk',
  'inference',
  'selfhosted',
];

/** The avatar participant's identity where a provider's official plugin names it otherwise than `<adapter>-avatar-agent`. */
export const DEFAULT_AVATAR_IDENTITY: Partial<Record<RemoteProvider, string>> = { did: 'd-id-avatar-agent', trugen: 'trugen-avatar', avatartalk: 'avatartalk-agent' };

export function isRemoteProfile(profile: { adapter: string }): profile is RemoteProfile {
  return (REMOTE_ADAPTERS as readonly string[]).includes(profile.adapter);
}

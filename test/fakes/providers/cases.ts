/**
 * The streaming providers that speak the DataStream avatar protocol, as tests and benches run
 * them: each one's fake, a profile pointing at it, the key it needs, and what its avatar joins as
 * and hears. A test over `DATASTREAM_PROVIDERS` covers every such provider at once.
 */
import type { AvatarKeys } from '../../../src/config/config.js';
import { startFakeAvatario } from './avatario.js';
import { startFakeAvatarTalk } from './avatartalk.js';
import { startFakeBithuman } from './bithuman.js';
import type { ProviderFake, ProviderFakeOptions } from './common.js';
import { startFakeDid } from './did.js';
import { startFakeInferenceGateway } from './inference.js';
import { startFakeKeyframe } from './keyframe.js';
import { startFakeProtoface } from './protoface.js';
import { startFakeRunway } from './runway.js';
import { startFakeSimli } from './simli.js';
import { startFakeSynthesia } from './synthesia.js';
import { startFakeTrugen } from './trugen.js';

export interface ProviderCase {
  adapter: string;
  /** As errors name it. */
  label: string;
  keyEnv: string;
  keyName: keyof AvatarKeys;
  /** The avatar participant's identity by default. */
  identity: string;
  /** Who hears the speech, where that is not the avatar (AvatarTalk's `listener`). */
  speechIdentity?: string;
  /** The rate the avatar hears by default. */
  sampleRate: number;
  /** The action its first (session) call's error names. */
  action: string;
  start(opts: ProviderFakeOptions): Promise<ProviderFake>;
  /** A profile for this provider's fake at `apiUrl`. */
  profile(apiUrl: string): Record<string, unknown>;
  /** Whether close ends the session through the API (the fake's `ended`). */
  endsSession: boolean;
}

export const DATASTREAM_PROVIDERS: readonly ProviderCase[] = [
  {
    adapter: 'simli',
    label: 'Simli',
    keyEnv: 'SIMLI_API_KEY',
    keyName: 'simli',
    identity: 'simli-avatar-agent',
    sampleRate: 16_000,
    action: 'create session token',
    start: (o) => startFakeSimli(o),
    profile: (apiUrl) => ({ adapter: 'simli', faceId: 'face-1', apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'did',
    label: 'D-ID',
    keyEnv: 'DID_API_KEY',
    keyName: 'did',
    identity: 'd-id-avatar-agent',
    sampleRate: 24_000,
    action: 'join agent session',
    start: (o) => startFakeDid(o),
    profile: (apiUrl) => ({ adapter: 'did', agentId: 'agt-1', apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'runway',
    label: 'Runway',
    keyEnv: 'RUNWAYML_API_SECRET',
    keyName: 'runway',
    identity: 'runway-avatar-agent',
    sampleRate: 16_000,
    action: 'create realtime session',
    start: (o) => startFakeRunway(o),
    profile: (apiUrl) => ({ adapter: 'runway', presetId: 'game-character', apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'synthesia',
    label: 'Synthesia',
    keyEnv: 'SYNTHESIA_API_KEY',
    keyName: 'synthesia',
    identity: 'synthesia-avatar-agent',
    sampleRate: 24_000,
    action: 'start interactive avatar session',
    start: (o) => startFakeSynthesia(o),
    profile: (apiUrl) => ({ adapter: 'synthesia', avatarIds: ['stock_1'], apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'trugen',
    label: 'Trugen',
    keyEnv: 'TRUGEN_API_KEY',
    keyName: 'trugen',
    identity: 'trugen-avatar',
    sampleRate: 24_000,
    action: 'create session',
    start: (o) => startFakeTrugen(o),
    profile: (apiUrl) => ({ adapter: 'trugen', apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'keyframe',
    label: 'Keyframe',
    keyEnv: 'KEYFRAME_API_KEY',
    keyName: 'keyframe',
    identity: 'keyframe-avatar-agent',
    sampleRate: 24_000,
    action: 'create session',
    start: (o) => startFakeKeyframe(o),
    profile: (apiUrl) => ({ adapter: 'keyframe', personaSlug: 'friendly-guide', apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'avatario',
    label: 'Avatario',
    keyEnv: 'AVATARIO_API_KEY',
    keyName: 'avatario',
    identity: 'avatario-avatar-agent',
    sampleRate: 24_000,
    action: 'start session',
    start: (o) => startFakeAvatario(o),
    profile: (apiUrl) => ({ adapter: 'avatario', avatarId: 'face-1', apiUrl }),
    endsSession: false,
  },
  {
    adapter: 'protoface',
    label: 'Protoface',
    keyEnv: 'PROTOFACE_API_KEY',
    keyName: 'protoface',
    identity: 'protoface-avatar-agent',
    sampleRate: 16_000,
    action: 'start session',
    start: (o) => startFakeProtoface(o),
    profile: (apiUrl) => ({ adapter: 'protoface', apiUrl }),
    endsSession: true,
  },
  {
    adapter: 'bithuman',
    label: 'bitHuman',
    keyEnv: 'BITHUMAN_API_SECRET',
    keyName: 'bithuman',
    identity: 'bithuman-avatar-agent',
    sampleRate: 16_000,
    action: 'start cloud avatar',
    start: (o) => startFakeBithuman(o),
    profile: (apiUrl) => ({ adapter: 'bithuman', agentId: 'A23WJF0199', apiUrl }),
    endsSession: true,
  },
  {
    adapter: 'avatartalk',
    label: 'AvatarTalk',
    keyEnv: 'AVATARTALK_API_KEY',
    keyName: 'avatartalk',
    identity: 'avatartalk-agent',
    speechIdentity: 'listener',
    sampleRate: 16_000,
    action: 'create session',
    start: (o) => startFakeAvatarTalk(o),
    profile: (apiUrl) => ({ adapter: 'avatartalk', apiUrl }),
    endsSession: true,
  },
];

/**
 * LiveKit Inference avatars: no provider key (the gateway call is signed with the LiveKit key
 * pair, and the gateway mints the avatar's token), so it is not among the keyed cases above.
 */
export const INFERENCE_PROVIDER: ProviderCase = {
  adapter: 'inference',
  label: 'LiveKit Inference avatar',
  keyEnv: 'LIVEKIT_API_KEY',
  keyName: 'launchSecret',
  identity: 'lemonslice-inference-avatar',
  sampleRate: 16_000,
  action: 'create session',
  start: (o) => startFakeInferenceGateway(o),
  profile: (apiUrl) => ({ adapter: 'inference', model: 'lemonslice/agent_1', apiUrl }),
  endsSession: true,
};

/** The keys every case needs, all set to `key`. */
export function keysFor(key: string): AvatarKeys {
  return Object.fromEntries(DATASTREAM_PROVIDERS.map((c) => [c.keyName, key])) as AvatarKeys;
}

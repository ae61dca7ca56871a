import { voice, type metrics } from '@livekit/agents';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { AvatarKeys } from '../../config/config.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle, LiveKitAccess } from '../contract.js';
import type { LaunchedAvatar, RemoteLauncher, RemoteOutput } from './launcher.js';
import { DEFAULT_AVATAR_IDENTITY, type RemoteProfile } from './profiles.js';
import { RemoteAudioOutput } from './remote-output.js';
import { mintAvatarToken } from './token.js';
import { waitForAvatarVideo, watchAvatarPresence, type AvatarArrival } from './wait-avatar.js';

/** How long close() waits for each cleanup call (removing the participant, ending the session). */
const CLEANUP_TIMEOUT_MS = 5000;

export class RemoteAvatarError extends Error {
  override name = 'RemoteAvatarError';
}

/** The default identity of a provider's avatar participant, as LiveKit's plugins name it. */
export function avatarIdentityFor(profile: RemoteProfile): string {
  if (profile.avatarIdentity) return profile.avatarIdentity;
  // As agents 1.9's inference.AvatarSession names it: `<provider>-inference-avatar`.
  if (profile.adapter === 'inference') return `${profile.model.split('/')[0]}-inference-avatar`;
  return DEFAULT_AVATAR_IDENTITY[profile.adapter] ?? `${profile.adapter}-avatar-agent`;
}

/**
 * The URL a provider's avatar is to join: always `ws://` or `wss://`. LiveKit Cloud projects are
 * often configured with `https://…`, which LiveKit's own SDKs accept and rewrite, but a provider
 * may take the field for a websocket URL as its name says (Synthesia's LiveKit plugin rewrites it
 * for that reason); http → ws and https → wss, the rest unchanged.
 */
export function livekitUrlForProvider(url: string): string {
  return url.replace(/^http(s?):\/\//i, (_m, s: string) => `ws${s.toLowerCase()}://`);
}

/**
 * The remote family's adapter: `launcher` asks the provider to send its avatar into the room;
 * attach waits for the avatar to join and publish video, then routes the agent's speech to it.
 * Each step has its own deadline (the profile's launchTimeoutMs, joinTimeoutMs and
 * firstVideoTimeoutMs; see START_DEADLINE_DEFAULTS). Any failure before the video throws a
 * RemoteAvatarError naming the provider and the reason, after cleaning up, so the registry falls
 * back.
 */
export function remoteAdapter(profile: RemoteProfile, launcherFor: (keys: AvatarKeys) => RemoteLauncher): AvatarAdapter {
  return { attach: async (ctx) => attachRemote(ctx, profile, launcherFor(ctx.keys ?? {})) };
}

async function attachRemote(ctx: AvatarContext, profile: RemoteProfile, launcher: RemoteLauncher): Promise<AvatarHandle> {
  const label = launcher.label;
  const fail = (reason: string) => new RemoteAvatarError(`${label} avatar unavailable: ${reason}${launcher.failureNote ? `. ${launcher.failureNote}` : ''}`);
  const room = ctx.room;
  const agentIdentity = room?.localParticipant?.identity;
  if (!room || !room.isConnected || !room.name || !agentIdentity) throw fail('it joins a LiveKit room, and this session has no connected room (remote avatars do not work offline)');
  if (!ctx.livekit) throw fail('LiveKit API access (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET) was not passed to the avatar');
  const livekit = ctx.livekit;
  const identity = avatarIdentityFor(profile);
  // Who hears the speech: the avatar itself, or a listener participant of the provider's (AvatarTalk).
  const hearer = launcher.speechIdentity ?? identity;
  const participants = hearer === identity ? [identity] : [identity, hearer];
  const log = ctx.logger.child({ avatar: profile.name, provider: profile.adapter });
  const startedAt = Date.now();
  const abort = new AbortController();

  // One deadline at a time, for the step under way: the session call, then the avatar's join,
  // then its first video. A step that passes its deadline aborts the attach with the field to raise.
  let timer: NodeJS.Timeout | undefined;
  const deadline = (field: 'launchTimeoutMs' | 'joinTimeoutMs' | 'firstVideoTimeoutMs', what: string) => {
    clearTimeout(timer);
    const ms = profile[field];
    timer = setTimeout(
      () => abort.abort(new RemoteAvatarError(`${what} within ${ms} ms (${field} of profile ${profile.name}; raise it if this provider is known to start slowly)`)),
      ms,
    );
  };
  let launchedAt = 0;
  let joinedAt = 0;
  const awaitVideo = () => deadline('firstVideoTimeoutMs', 'its avatar joined the room but published no video');
  deadline('launchTimeoutMs', 'the session call did not complete');

  // A participant left over under the same identity (a crashed job, a previous attempt) would be
  // taken for the new avatar, and the new one could not join under its name.
  for (const p of participants) if (room.remoteParticipants.has(p)) await removeParticipant(livekit, room.name, p, log);

  let launching: Promise<LaunchedAvatar> | undefined;
  let launched: LaunchedAvatar | undefined;
  let arrival: AvatarArrival;
  try {
    const token = await mintAvatarToken({
      livekit,
      room: room.name,
      identity,
      ...(profile.avatarName ? { name: profile.avatarName } : {}),
      agentIdentity,
      ...(launcher.tokenGrants ? { grants: launcher.tokenGrants } : {}),
    });
    // Listen before launching: a fast provider can join before its HTTP answer arrives.
    const joined = waitForAvatarVideo(room, identity, abort.signal, (at) => {
      joinedAt = at;
      if (launchedAt) awaitVideo();
    });
    joined.catch(() => {});
    const heard = hearer === identity ? undefined : waitForAvatarVideo(room, hearer, abort.signal, undefined, { video: false });
    heard?.catch(() => {});
    const roomSid = await withTimeout(room.getSid(), 1000).catch(() => undefined);
    launching = launcher.launch({
      livekitUrl: livekitUrlForProvider(livekit.publicUrl ?? livekit.url),
      token,
      room: room.name,
      ...(roomSid ? { roomSid } : {}),
      avatarIdentity: identity,
      agentIdentity,
      ...(profile.avatarName ? { avatarName: profile.avatarName } : {}),
      livekitKeys: { apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      sendToAvatar: (payload) => room.localParticipant!.publishData(new TextEncoder().encode(payload), { reliable: true, destination_identities: [identity] }),
      // Past the step's own deadline, so that one (which names the profile field) is what a hang reports.
      timeoutMs: profile.launchTimeoutMs + 1000,
      signal: abort.signal,
      logger: log,
    });
    launched = await raceAbort(launching, abort.signal);
    launchedAt = Date.now();
    if (joinedAt) awaitVideo();
    else deadline('joinTimeoutMs', 'its avatar did not join the room');
    log.info({ sessionId: launched.sessionId, launchMs: launchedAt - startedAt }, 'avatar session started; waiting for the avatar to join');
    arrival = await joined;
    if (heard && !room.remoteParticipants.has(hearer)) {
      deadline('joinTimeoutMs', `its avatar publishes video, but its ${hearer} participant (which hears the speech) did not join the room`);
      await heard;
    }
  } catch (err) {
    clearTimeout(timer);
    if (!abort.signal.aborted) abort.abort(new Error('attach failed'));
    const reason = err instanceof Error ? err.message : String(err);
    // Nobody should pay for an avatar we are not going to use, even one whose launch answers late.
    if (!launched && launching) void launching.then((late) => late.end?.()).catch(() => {});
    await cleanup(livekit, room.name, participants, launched, log);
    throw fail(stripProvider(reason, label));
  }
  clearTimeout(timer);

  const joinMs = arrival.videoAt - startedAt;
  log.info({ joinMs, sessionId: launched.sessionId }, 'avatar joined and publishes video');
  emitJoinMetrics(ctx.session, profile.adapter, startedAt, arrival.videoAt);

  const output: RemoteOutput =
    launched.output ??
    new RemoteAudioOutput({
      room,
      avatarIdentity: hearer,
      // A listener publishes no video of its own (the avatar's was waited for above).
      waitVideo: hearer === identity,
      sampleRate: launched.sampleRate ?? profile.sampleRate,
      waitPlaybackStart: waitsForPlaybackStart(profile),
      logger: log,
    });
  ctx.session.output.audio = output;
  output.bindSession?.(ctx.session);

  const presence = watchAvatarPresence(room, identity);
  const listening = hearer === identity ? undefined : watchAvatarPresence(room, hearer);
  let closed = false;
  const lost = Promise.race([
    presence.gone,
    listening?.gone.then((why) => `its ${hearer} participant, which hears the speech, is gone (${why.replace(/^the avatar participant /, '')})`) ?? new Promise<string>(() => {}),
    launched.lost ?? new Promise<string>(() => {}),
  ]).then((reason) => {
    if (!closed) {
      log.warn({ reason }, 'avatar lost mid-call');
      output.markLost(reason);
    }
    return `${label}: ${reason}`;
  });

  let closing: Promise<void> | undefined;
  const session = launched;
  return {
    profile,
    timings: output,
    lost,
    close() {
      closing ??= (async () => {
        closed = true;
        presence.stop();
        listening?.stop();
        abort.abort(new Error('closed'));
        await output.close().catch((err: unknown) => log.debug({ err }, 'avatar output close failed'));
        await cleanup(livekit, room.name!, participants, session, log);
      })();
      return closing;
    },
  };
}

function waitsForPlaybackStart(profile: RemoteProfile): boolean {
  if (profile.adapter === 'lemonslice' || profile.adapter === 'inference') return true;
  if (profile.adapter === 'selfhosted') return profile.waitPlaybackStart;
  return false;
}

/** Remove the avatar's participants and end the provider session, each bounded and best effort. */
async function cleanup(livekit: LiveKitAccess, room: string, identities: string[], launched: LaunchedAvatar | undefined, log: AvatarContext['logger']): Promise<void> {
  const ending = launched?.end
    ? withTimeout(launched.end(), CLEANUP_TIMEOUT_MS).catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? err.message : String(err), sessionId: launched.sessionId }, 'could not end the avatar provider session; it may bill until it times out'),
      )
    : undefined;
  // An end said to the avatar itself must reach it before it is removed.
  if (launched?.endInRoom) await ending;
  await Promise.all([...identities.map((identity) => removeParticipant(livekit, room, identity, log)), ending]);
}

export async function removeParticipant(livekit: LiveKitAccess, room: string, identity: string, log: AvatarContext['logger']): Promise<void> {
  try {
    await withTimeout(new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret).removeParticipant(room, identity), CLEANUP_TIMEOUT_MS);
  } catch (err) {
    if ((err as { code?: string }).code === 'not_found') return;
    log.warn({ err: err instanceof Error ? err.message : String(err), identity }, 'could not remove the avatar participant');
  }
}

function emitJoinMetrics(session: voice.AgentSession, provider: string, startedAt: number, joinedAt: number): void {
  const m: metrics.AvatarMetrics = {
    type: 'avatar_metrics',
    timestamp: joinedAt,
    sessionStartedAt: startedAt,
    avatarJoinedAt: joinedAt,
    metadata: { modelProvider: provider },
  };
  session.emit(voice.AgentSessionEventTypes.MetricsCollected, voice.createMetricsCollectedEvent({ metrics: m }));
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Provider errors already start with the provider's name; do not say it twice. */
function stripProvider(reason: string, label: string): string {
  return reason.startsWith(`${label} `) ? reason.slice(label.length + 1) : reason;
}

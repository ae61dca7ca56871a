import { EventEmitter } from 'node:events';
import { loadAvatarProfile, VOICE_ONLY_PROFILE, type AvatarProfile } from '../config/avatar-profile.js';
import { builtinAdapter } from './builtin.js';
import { clientAdapter } from './client/adapter.js';
import { AVATAR_ATTRIBUTES } from './client/protocol.js';
import type { AvatarAdapter, AvatarContext, AvatarHandle, SegmentTimingSource } from './contract.js';
import type { SegmentTimings } from './local/avatar-output.js';
import { noneAdapter } from './none.js';
import { remoteAdapterFor } from './remote/index.js';
import { diffusionAdapter, splatAdapter } from './renderer/adapters.js';
import { unrealAdapter } from './unreal/adapter.js';

/**
 * Adapters whose video this worker makes itself (draws, or decodes and re-encodes): they cost CPU
 * per conversation, so the worker's load function counts them. Remote providers render elsewhere.
 */
const LOCAL_RENDERING_ADAPTERS: ReadonlySet<string> = new Set(['builtin', 'diffusion', 'splat', 'unreal']);

export function rendersLocally(adapter: string): boolean {
  return LOCAL_RENDERING_ADAPTERS.has(adapter);
}

export function adapterFor(profile: AvatarProfile): AvatarAdapter {
  switch (profile.adapter) {
    case 'builtin':
      return builtinAdapter(profile);
    case 'none':
      return noneAdapter(profile);
    case 'client':
      return clientAdapter(profile);
    case 'diffusion':
      return diffusionAdapter(profile);
    case 'splat':
      return splatAdapter(profile);
    case 'unreal':
      return unrealAdapter(profile);
    case 'tavus':
    case 'liveavatar':
    case 'bey':
    case 'anam':
    case 'lemonslice':
    case 'simli':
    case 'did':
    case 'runway':
    case 'synthesia':
    case 'trugen':
    case 'keyframe':
    case 'avatario':
    case 'protoface':
    case 'bithuman':
    case 'avatartalk':
    case 'inference':
    case 'selfhosted':
      return remoteAdapterFor(profile);
  }
}

/** A profile that could not serve, and why (shown to the user, logged, counted in /metrics). */
export interface AvatarFallback {
  profile: string;
  reason: string;
}

export interface AttachedAvatar {
  /** The avatar showing now; it changes when a mid-call loss moves down the fallback chain. */
  readonly handle: AvatarHandle;
  /** Profiles that were tried and failed (at start or mid-call), oldest first, with the reason. */
  readonly fallbacks: AvatarFallback[];
  /** How long the avatar showing took to attach (a provider's participant joining with video, a renderer's session start). */
  readonly attachMs: number;
  /** Per-segment timings from whichever avatar is showing. */
  readonly timings: SegmentTimingSource;
  /** Called on every fallback after start (mid-call), once the next avatar is showing. */
  onFallback(listener: (fallback: AvatarFallback, now: AvatarHandle) => void): void;
  close(): Promise<void>;
}

/**
 * Attach the named avatar, walking its fallback chain when an avatar cannot serve, and keep
 * walking it if the avatar is lost mid-call (a provider's participant leaves, a renderer dies):
 * the next adapter takes over the session's audio output and the conversation goes on. Voice only
 * is always the last resort, so a conversation never fails for want of a face.
 */
export async function attachAvatar(
  ctx: AvatarContext,
  dir: string,
  name: string,
  opts: { adapterFor?: (profile: AvatarProfile) => AvatarAdapter } = {},
): Promise<AttachedAvatar> {
  const supervisor = new AvatarSupervisor(ctx, dir, opts.adapterFor ?? adapterFor);
  await supervisor.start(name);
  return supervisor;
}

class AvatarSupervisor implements AttachedAvatar {
  readonly fallbacks: AvatarFallback[] = [];
  readonly timings: SegmentTimingSource;
  attachMs = 0;
  private current: AvatarHandle | undefined;
  private readonly tried = new Set<string>();
  /** Profiles still to try after the current one, in order. */
  private remaining: string[] = [];
  private readonly events = new EventEmitter();
  private closed = false;

  constructor(
    private readonly ctx: AvatarContext,
    private readonly dir: string,
    private readonly resolve: (profile: AvatarProfile) => AvatarAdapter,
  ) {
    // One stable source for observers: it relays whichever avatar is showing at the time.
    const self = this;
    this.timings = {
      onSegmentTimings: (listener) => this.events.on('segment_timings', listener),
      get reporting() {
        return Boolean(self.current && (self.current.timings ?? self.current.localOutput));
      },
    };
  }

  get handle(): AvatarHandle {
    if (!this.current) throw new Error('avatar not attached yet');
    return this.current;
  }

  onFallback(listener: (fallback: AvatarFallback, now: AvatarHandle) => void): void {
    this.events.on('fallback', listener);
  }

  async start(name: string): Promise<void> {
    await this.walk([name], name);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
  }

  private async walk(queue: string[], requested: string): Promise<void> {
    while (queue.length > 0 && !this.closed) {
      const next = queue.shift()!;
      if (this.tried.has(next)) continue;
      this.tried.add(next);
      let profile: AvatarProfile | undefined;
      try {
        profile = await loadAvatarProfile(this.dir, next);
        const startedAt = performance.now();
        const handle = await this.resolve(profile).attach(this.ctx);
        this.attachMs = Math.round(performance.now() - startedAt);
        this.remaining = [...profile.fallback, ...queue];
        await this.show(handle);
        if (this.fallbacks.length) this.ctx.logger.warn({ avatar: next, fallbacks: this.fallbacks }, `avatar ${requested} unavailable; using ${next}`);
        else this.ctx.logger.info({ avatar: next, adapter: profile.adapter }, 'avatar attached');
        return;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.fallbacks.push({ profile: next, reason });
        this.ctx.logger.warn({ avatar: next, reason }, 'avatar failed to start; trying the next in its fallback chain');
        queue.unshift(...(profile?.fallback ?? []));
      }
    }
    if (this.closed) return;
    this.attachMs = 0;
    await this.show(await noneAdapter(VOICE_ONLY_PROFILE).attach(this.ctx));
    this.ctx.logger.warn({ fallbacks: this.fallbacks }, 'no avatar could start; continuing voice only');
  }

  private async show(handle: AvatarHandle): Promise<void> {
    this.current = handle;
    (handle.timings ?? handle.localOutput)?.onSegmentTimings((t: SegmentTimings) => {
      if (this.current === handle) this.events.emit('segment_timings', t);
    });
    void handle.lost?.then((reason) => this.onLost(handle, reason));
    await describeAvatar(this.ctx, handle, this.fallbacks);
  }

  /** Mid-call: the avatar showing stopped serving. Close it and take the next in the chain. */
  private async onLost(handle: AvatarHandle, reason: string): Promise<void> {
    if (this.closed || this.current !== handle) return;
    const fallback = { profile: handle.profile.name, reason };
    this.fallbacks.push(fallback);
    this.ctx.logger.warn({ avatar: handle.profile.name, reason }, 'avatar lost mid-call; moving down its fallback chain');
    await handle.close().catch((err: unknown) => this.ctx.logger.debug({ err }, 'closing the lost avatar failed'));
    try {
      await this.walk(this.remaining, handle.profile.name);
    } catch (err) {
      // walk() only throws if even voice only fails, which would be a bug; the call still goes on.
      this.ctx.logger.error({ err }, 'could not attach a fallback avatar');
      return;
    }
    if (!this.closed) this.events.emit('fallback', fallback, this.current);
  }
}

/**
 * Tell the room which avatar is showing and why, as attributes of the agent participant, so a
 * front end can say "avatar unavailable, voice only" instead of showing a black tile.
 */
async function describeAvatar(ctx: AvatarContext, handle: AvatarHandle, fallbacks: AvatarFallback[]): Promise<void> {
  const participant = ctx.room?.localParticipant;
  if (!participant) return;
  const last = fallbacks.at(-1);
  await participant
    .setAttributes({
      [AVATAR_ATTRIBUTES.profile]: handle.profile.name,
      [AVATAR_ATTRIBUTES.adapter]: handle.profile.adapter,
      [AVATAR_ATTRIBUTES.fallbackReason]: last ? `${last.profile}: ${last.reason}`.slice(0, 500) : '',
      // What the viewer's browser draws (client adapter); cleared when the avatar showing is not drawn there.
      [AVATAR_ATTRIBUTES.client]: '',
      ...handle.attributes,
    })
    .catch((err: unknown) => ctx.logger.debug({ err }, 'could not set avatar attributes'));
}

import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializeLogger, type voice } from '@livekit/agents';
import pino from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AvatarAdapter, AvatarHandle } from '../src/avatar/contract.js';
import { LocalAvatarOutput } from '../src/avatar/local/avatar-output.js';
import { MemoryMediaSink } from '../src/avatar/local/memory-sink.js';
import { adapterFor, attachAvatar } from '../src/avatar/registry.js';
import type { AvatarProfile } from '../src/config/avatar-profile.js';

/**
 * The registry's promise to a user: whatever fails, the conversation keeps a voice, and it moves
 * down the profile's fallback chain (at start and mid-call) saying which avatar failed and why.
 * Real builtin adapters render into memory; a "provider" stands in for any avatar that can fail.
 */

const logger = pino({ level: 'silent' });
let dir: string;

/** Just the part of AgentSession an adapter touches: the audio output slot. */
function fakeSession(): voice.AgentSession {
  return { output: { audio: null } } as unknown as voice.AgentSession;
}

async function profile(name: string, json: object): Promise<void> {
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(join(dir, name, 'avatar.json'), JSON.stringify(json));
}

/** An avatar that attaches (or refuses) on command and can be lost mid-call. */
function provider(opts: { failAttach?: string } = {}) {
  let lose!: (reason: string) => void;
  const lost = new Promise<string>((resolve) => (lose = resolve));
  let closed = 0;
  const adapter = (p: AvatarProfile): AvatarAdapter => ({
    async attach(): Promise<AvatarHandle> {
      if (opts.failAttach) throw new Error(opts.failAttach);
      return { profile: p, lost, close: async () => void closed++ };
    },
  });
  return { adapter, lose, closedCount: () => closed };
}

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'avatars-'));
  await profile('face', { adapter: 'builtin', seed: 3 });
  // "remote" is shaped like a builtin profile; the test resolves it to the stand-in provider.
  await profile('remote', { adapter: 'builtin', fallback: ['face'] });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('avatar registry: fallback chain', () => {
  it('falls back to the next profile when an avatar cannot start, and records why', async () => {
    const p = provider({ failAttach: 'tavus: 402 payment required; check your plan' });
    const session = fakeSession();
    const sink = new MemoryMediaSink();
    const avatar = await attachAvatar({ session, sink, logger }, dir, 'remote', {
      adapterFor: (pr) => (pr.name === 'remote' ? p.adapter(pr) : adapterFor(pr)),
    });
    try {
      expect(avatar.handle.profile.name).toBe('face');
      expect(avatar.fallbacks).toEqual([{ profile: 'remote', reason: 'tavus: 402 payment required; check your plan' }]);
      expect(session.output.audio).toBeInstanceOf(LocalAvatarOutput);
    } finally {
      await avatar.close();
    }
  });

  it('ends in voice only when every avatar fails, and says so', async () => {
    const session = fakeSession();
    const avatar = await attachAvatar({ session, logger }, dir, 'remote', {
      adapterFor: (pr) => provider({ failAttach: `${pr.name} is down` }).adapter(pr),
    });
    expect(avatar.handle.profile.adapter).toBe('none');
    expect(avatar.fallbacks.map((f) => f.profile)).toEqual(['remote', 'face']);
    expect(avatar.timings.reporting).toBe(false);
    await avatar.close();
  });

  it('an avatar lost mid-call hands the voice to the next in the chain, which speaks and moves its mouth', async () => {
    const p = provider();
    const session = fakeSession();
    const sink = new MemoryMediaSink();
    const avatar = await attachAvatar({ session, sink, logger }, dir, 'remote', {
      adapterFor: (pr) => (pr.name === 'remote' ? p.adapter(pr) : adapterFor(pr)),
    });
    try {
      expect(avatar.handle.profile.name).toBe('remote');
      const switched = new Promise<{ profile: string; reason: string }>((resolve) => avatar.onFallback((f) => resolve(f)));
      p.lose('tavus-avatar-agent left the room');
      const fallback = await switched;
      expect(fallback).toEqual({ profile: 'remote', reason: 'tavus-avatar-agent left the room' });
      expect(p.closedCount()).toBe(1);
      expect(avatar.handle.profile.name).toBe('face');
      expect(avatar.fallbacks.at(-1)).toEqual(fallback);

      // The new avatar is the session's voice now: speech sent to it plays and reports its timing.
      const output = session.output.audio as LocalAvatarOutput;
      expect(output).toBeInstanceOf(LocalAvatarOutput);
      const timings = new Promise<number>((resolve) => avatar.timings.onSegmentTimings((t) => resolve(t.firstSpeakingFrameAt - t.firstAudioAt)));
      const { AudioFrame } = await import('@livekit/rtc-node');
      const tone = new Int16Array(24000 / 2);
      for (let i = 0; i < tone.length; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 24000) * (0.5 + 0.5 * Math.sin((2 * Math.PI * 4 * i) / 24000)));
      await output.captureFrame(new AudioFrame(tone, 24000, 1, tone.length));
      output.flush();
      const finished = await output.waitForPlayout();
      expect(finished.interrupted).toBe(false);
      expect(await timings).toBeLessThan(1000);
      expect(sink.frames.some((f) => f.speech)).toBe(true);
    } finally {
      await avatar.close();
    }
  });

  it('a loss after close is ignored (no avatar is started for a call that ended)', async () => {
    const p = provider();
    const avatar = await attachAvatar({ session: fakeSession(), sink: new MemoryMediaSink(), logger }, dir, 'remote', {
      adapterFor: (pr) => (pr.name === 'remote' ? p.adapter(pr) : adapterFor(pr)),
    });
    let fell = false;
    avatar.onFallback(() => (fell = true));
    await avatar.close();
    p.lose('left');
    await new Promise((r) => setTimeout(r, 50));
    expect(fell).toBe(false);
    expect(avatar.handle.profile.name).toBe('remote');
  });

  it('a GPU renderer profile on disk renders through the reference renderer; with the renderer down it falls back to the builtin face', async () => {
    const { ReferenceRenderer } = await import('../src/avatar/renderer/reference-renderer.js');
    const secret = 'renderer-secret-0123456789';
    const renderer = new ReferenceRenderer({ secret, logger });
    const url = await renderer.listen();
    await profile('gpu', { adapter: 'diffusion', url, avatarId: 'reference', width: 256, height: 256, fps: 25, frameFormat: 'jpeg', fallback: ['face'] });
    try {
      const sink = new MemoryMediaSink();
      const avatar = await attachAvatar({ session: fakeSession(), sink, logger, keys: { rendererSecret: secret } }, dir, 'gpu');
      expect(avatar.handle.profile.adapter).toBe('diffusion');
      expect(avatar.fallbacks).toEqual([]);
      await avatar.close();
    } finally {
      await renderer.close();
    }
    // Nothing listens there any more: the worker says so and the builtin face takes over.
    const session = fakeSession();
    const avatar = await attachAvatar({ session, sink: new MemoryMediaSink(), logger, keys: { rendererSecret: secret } }, dir, 'gpu');
    try {
      expect(avatar.handle.profile.name).toBe('face');
      expect(avatar.fallbacks[0]?.profile).toBe('gpu');
      expect(avatar.fallbacks[0]?.reason).not.toContain(secret);
      expect(session.output.audio).toBeInstanceOf(LocalAvatarOutput);
    } finally {
      await avatar.close();
    }
  });
});

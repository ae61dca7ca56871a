import type { AttachedAvatar } from '../avatar/registry.js';
import type { JobReporter } from './job-reporter.js';

/**
 * Every `intervalMs`, send the frames the showing avatar counted since the last report (fps,
 * late drops, stall repeats of a GPU renderer or Unreal) to /metrics. Counts are cumulative per
 * avatar, so a fallback to another avatar starts its own count from zero.
 */
export function reportAvatarFrames(avatar: AttachedAvatar, reporter: JobReporter, intervalMs = 5_000): () => void {
  let last = { handle: avatar.handle, shown: 0, dropped: 0, repeated: 0 };
  const flush = () => {
    const handle = avatar.handle;
    const now = handle.stats?.();
    if (last.handle !== handle) last = { handle, shown: 0, dropped: 0, repeated: 0 };
    if (!now) return;
    const delta = { shown: now.shown - last.shown, dropped: now.dropped - last.dropped, repeated: now.repeated - last.repeated };
    if (delta.shown > 0 || delta.dropped > 0 || delta.repeated > 0) reporter.avatarFrames(handle.profile.adapter, delta);
    last = { handle, ...now };
  };
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    flush();
  };
}

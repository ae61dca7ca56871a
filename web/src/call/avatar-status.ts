/**
 * What the agent says about its avatar, as attributes of the agent participant (set by the
 * worker's avatar registry, src/avatar/registry.ts): which profile and adapter are showing, and
 * why the preferred one is not. The keys live in the module the worker and the page share.
 */
import { AVATAR_ATTRIBUTES } from '../../../src/avatar/client/protocol';

export { AVATAR_ATTRIBUTES };

export interface AvatarStatus {
  /** Known once the agent has published its attributes. */
  adapter?: string;
  profile?: string;
  /** The adapter is `none`: there is no face to show, only a voice. */
  voiceOnly: boolean;
  /** Why the avatar in use is not the one configured ("<profile>: <reason>"); absent when it is. */
  fallbackReason?: string;
}

export function readAvatarStatus(attributes: Readonly<Record<string, string>> | undefined): AvatarStatus {
  const adapter = attributes?.[AVATAR_ATTRIBUTES.adapter] || undefined;
  const profile = attributes?.[AVATAR_ATTRIBUTES.profile] || undefined;
  const fallbackReason = attributes?.[AVATAR_ATTRIBUTES.fallbackReason]?.trim() || undefined;
  return {
    ...(adapter ? { adapter } : {}),
    ...(profile ? { profile } : {}),
    voiceOnly: adapter === 'none',
    ...(fallbackReason ? { fallbackReason } : {}),
  };
}

/** One sentence for the page, or nothing when the configured avatar is showing. */
export function avatarNotice(status: AvatarStatus): string | undefined {
  if (status.fallbackReason) {
    return status.voiceOnly
      ? `The avatar could not start, so this call is voice only. Reason: ${status.fallbackReason}`
      : `Showing a fallback avatar${status.profile ? ` (${status.profile})` : ''}. Reason: ${status.fallbackReason}`;
  }
  if (status.voiceOnly) return 'This avatar is voice only.';
  return undefined;
}

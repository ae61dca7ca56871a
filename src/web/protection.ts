import { createHash, timingSafeEqual } from 'node:crypto';
import { SHARED_KEY_HEADER } from './api.js';

export type ProtectionVerdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/**
 * Who may ask for a token, for deployments open to the internet. Both checks are optional and
 * combine. The origin list stops other web sites from minting tokens through a visitor's browser
 * (a browser always sends Origin on a POST and cannot forge it); the shared key stops everyone
 * who does not have it, browsers or not. Neither replaces the per-IP rate limit.
 */
export function checkProtection(
  protection: { sharedKey?: string; allowedOrigins: readonly string[] },
  headers: { origin?: string | undefined; key?: string | undefined },
): ProtectionVerdict {
  if (protection.allowedOrigins.length > 0) {
    if (!headers.origin) return { ok: false, status: 403, reason: 'origin not allowed: the request has no Origin header' };
    if (!protection.allowedOrigins.includes(headers.origin)) return { ok: false, status: 403, reason: `origin not allowed: ${headers.origin}` };
  }
  if (protection.sharedKey !== undefined) {
    if (!headers.key) return { ok: false, status: 401, reason: `access key required (${SHARED_KEY_HEADER} header)` };
    if (!sameSecret(headers.key, protection.sharedKey)) return { ok: false, status: 401, reason: 'wrong access key' };
  }
  return { ok: true };
}

/** Constant-time comparison; hashing first makes the lengths equal without revealing them. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

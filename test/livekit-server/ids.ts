/**
 * LiveKit-style identifiers: a type prefix, an underscore and 12 base62 characters (as the Go
 * server's `guid.New`). Clients only rely on the prefixes (`PA_`, `TR_`, `RM_`), e.g. rtc-node
 * drops a remote track whose id does not start with `TR`.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type SidPrefix = 'RM_' | 'PA_' | 'TR_' | 'AJ_' | 'AD_' | 'AW_' | 'SR_' | 'ND_';

export function newSid(prefix: SidPrefix): string {
  const bytes = randomBytes(12);
  let out = prefix;
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

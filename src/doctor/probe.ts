/**
 * One cheap HTTP GET against a service, classified for a person: nothing answers, the key was
 * refused, or it answered. Used by the doctor; never prints the credential it sends.
 */
export type ProbeResult =
  | { kind: 'unreachable'; why: string }
  | { kind: 'refused'; status: number }
  | { kind: 'answered'; status: number };

export async function probe(url: string, headers: Record<string, string>, timeoutMs: number): Promise<ProbeResult> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) return { kind: 'refused', status: res.status };
    return { kind: 'answered', status: res.status };
  } catch (err) {
    return { kind: 'unreachable', why: networkReason(err, timeoutMs) };
  }
}

/** ECONNREFUSED, ENOTFOUND, a timeout...: the code a person can search for. */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  return e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** ws(s):// → http(s)://, for services (LiveKit, Deepgram) whose REST API shares the host. */
export function httpOf(url: string): string {
  return url.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '');
}

import type { z } from 'zod';

/**
 * One HTTP call to an avatar provider's API, with a deadline and errors a person can act on:
 * which provider, what went wrong, and what to check. Keys and tokens are never part of an error.
 */

export interface ProviderCall<T> {
  /** Shown in errors, e.g. `Tavus`. */
  provider: string;
  /** What this call does, e.g. `create conversation`. */
  action: string;
  /** The env variable whose key authenticates the call (named on 401/403), e.g. `TAVUS_API_KEY`. */
  keyEnv?: string;
  method?: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A JSON body, or a multipart form. */
  json?: unknown;
  form?: FormData;
  timeoutMs: number;
  /** Validates the success body; absent: the body is ignored. */
  schema?: z.ZodType<T>;
  /** Values to cut out of any text quoted in an error (keys, tokens). */
  secrets?: string[];
  signal?: AbortSignal;
}

export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    message: string,
    /** HTTP status, when the provider answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export async function callProvider<T = unknown>(call: ProviderCall<T>): Promise<T> {
  const what = `${call.provider} ${call.action}`;
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
  let body: string | FormData | undefined;
  if (call.form) body = call.form;
  else if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(call.json);
  }
  const signal = call.signal ? AbortSignal.any([call.signal, AbortSignal.timeout(call.timeoutMs)]) : AbortSignal.timeout(call.timeoutMs);
  let res: Response;
  try {
    res = await fetch(call.url, { method: call.method ?? 'POST', headers, body, signal, redirect: 'error' });
  } catch (err) {
    if (call.signal?.aborted) throw new ProviderError(`${what}: cancelled`);
    const timedOut = (err as Error).name === 'TimeoutError';
    throw new ProviderError(
      timedOut
        ? `${what}: no answer within ${call.timeoutMs} ms from ${origin(call.url)}; the provider may be overloaded or unreachable from here`
        : `${what}: could not reach ${origin(call.url)} (${causeOf(err)}); check the network and the profile's apiUrl`,
    );
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) {
    const problem = problemOf(text);
    throw new ProviderError(`${what} failed: ${describeStatus(res.status, call, problem?.code)}${problem ? problemDetail(problem, call.secrets) : detail(text, call.secrets)}`, res.status);
  }
  if (!call.schema) return undefined as T;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new ProviderError(`${what}: the answer (HTTP ${res.status}) is not JSON; is apiUrl pointing at the provider's API?`, res.status);
  }
  const parsed = call.schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ProviderError(`${what}: unexpected answer (${issue.path.join('.') || '(root)'}: ${issue.message}); the provider's API may have changed`, res.status);
  }
  return parsed.data;
}

function describeStatus(status: number, call: ProviderCall<unknown>, code?: string): string {
  const key = call.keyEnv ?? 'the API key';
  // An RFC 9457 problem may say a 403 is the plan, not the key (Synthesia's feature_not_in_plan).
  if (status === 403 && code && /plan|quota|payment|credit/i.test(code)) return `HTTP 403, not in the plan (${code}); the ${call.provider} account's plan does not include this`;
  // bitHuman answers a plan's concurrent-session cap with 403 CONCURRENCY_LIMIT_REACHED.
  if (status === 403 && code && /concurren/i.test(code)) return `HTTP 403, concurrency limit reached (${code}); too many sessions at once for this ${call.provider} plan: end one or retry later`;
  if (status === 401 || status === 403) return `HTTP ${status}, the key was refused; check ${key} (is it current, and for this account?)`;
  if (status === 402) return `HTTP 402, payment required; the ${call.provider} account is out of credits or its plan does not include this`;
  if (status === 404) return `HTTP 404; check the profile's ids (avatar, face, PAL…) and apiUrl`;
  if (status === 429) return `HTTP 429, rate or concurrency limit reached; too many sessions at once for this ${call.provider} plan, or retry later`;
  if (status >= 500) return `HTTP ${status}, ${call.provider} is failing on its side; see its status page or retry later`;
  return `HTTP ${status}; check the profile's fields`;
}

/** A short, scrubbed excerpt of the provider's error text: it often says exactly what is wrong. */
function detail(text: string, secrets: string[] = []): string {
  let t = text.replace(/\s+/g, ' ').trim();
  if (!t) return '';
  for (const s of secrets) if (s && s.length >= 4) t = t.split(s).join('[redacted]');
  // Anything that looks like a JWT (a LiveKit token echoed back) goes too.
  t = t.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '[redacted]');
  return ` (${clip(t)})`;
}

/**
 * A provider's structured error: an RFC 9457 problem (application/problem+json: Synthesia), or the
 * `{error: {code, message}}` envelope (bitHuman, Protoface), whose code says what a status means.
 */
interface Problem {
  title?: string;
  detail?: string;
  code?: string;
}

function problemOf(text: string): Problem | undefined {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (!body || typeof body !== 'object') return undefined;
    const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    const error = body.error && typeof body.error === 'object' ? (body.error as Record<string, unknown>) : undefined;
    if (typeof body.type !== 'string') {
      // Not a problem; the envelope only when it carries a code.
      const code = str(error?.code);
      return code ? { code, ...(str(error?.message) ? { detail: str(error?.message) } : {}) } : undefined;
    }
    const code = str(body.code) ?? str(error?.code);
    return { ...(str(body.title) ? { title: str(body.title) } : {}), ...(str(body.detail) ? { detail: str(body.detail) } : {}), ...(code ? { code } : {}) };
  } catch {
    return undefined;
  }
}

/** The problem's code, title and detail: what the provider says is wrong, scrubbed like any quote. */
function problemDetail(p: Problem, secrets: string[] = []): string {
  const text = [p.code, p.title, p.detail].filter(Boolean).join(': ');
  return text ? detail(text, secrets) : '';
}

const clip = (t: string) => (t.length > 200 ? `${t.slice(0, 200)}…` : t);

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the API';
  }
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** The provider's key from AvatarKeys, or an error naming the env variable to set. */
export function requireKey(value: string | undefined, provider: string, env: string): string {
  if (!value) throw new ProviderError(`${provider} avatar: ${env} is not set; add it to the worker's environment`);
  return value;
}

/** A call of one provider's API, as a launcher makes it: the action, where, and what is sent. */
export type ProviderCallSpec<T> = Pick<ProviderCall<T>, 'action' | 'url' | 'method' | 'json' | 'schema' | 'headers'> & {
  /** Sent without the key (a call that a session token in the body authenticates: Simli's join). */
  withoutKey?: boolean;
};

/** One provider's API with its name, key variable and auth headers bound, for launchers to call. */
export interface ProviderApi {
  /** A call of the launch: the request's deadline and abort signal; the key and the LiveKit token are kept out of errors. */
  launch<T>(req: { timeoutMs: number; signal: AbortSignal; token: string }, call: ProviderCallSpec<T>, moreSecrets?: string[]): Promise<T>;
  /** A cleanup call (ending the session): 5 s, not aborted with the attach; a session that is already over (400, 404, 409, 410) is not an error. */
  end(call: ProviderCallSpec<unknown>): Promise<void>;
}

/**
 * The provider's API for a launcher: throws at once (naming `keyEnv`) when the key is not set, so
 * the attach fails before any call and the registry falls back; `auth` makes the key's headers.
 */
export function providerApi(p: { provider: string; keyEnv: string; key: string | undefined; auth: (key: string) => Record<string, string> }): ProviderApi {
  const key = requireKey(p.key, p.provider, p.keyEnv);
  const auth = p.auth(key);
  const bound = { provider: p.provider, keyEnv: p.keyEnv };
  return {
    launch: (req, { withoutKey, ...call }, more = []) =>
      callProvider({ ...bound, ...call, headers: { ...(withoutKey ? {} : auth), ...call.headers }, timeoutMs: req.timeoutMs, signal: req.signal, secrets: [key, req.token, ...more] }),
    end: async ({ withoutKey, ...call }) => {
      await callProvider({ ...bound, ...call, headers: { ...(withoutKey ? {} : auth), ...call.headers }, timeoutMs: 5000, secrets: [key] }).catch((err: unknown) => {
        const status = (err as { status?: number }).status;
        if (status === 400 || status === 404 || status === 409 || status === 410) return;
        throw err;
      });
    },
  };
}

/** A profile's apiUrl without its trailing slashes, to append paths to. */
export const apiBase = (apiUrl: string): string => apiUrl.replace(/\/+$/, '');

/**
 * What every fake avatar provider shares: an HTTP server on loopback, the request log, latency and
 * fault knobs, checks of what the client sent (a request the real API would refuse is refused
 * here, with the reason kept in `problems`), verification of the LiveKit token handed to the
 * provider, and, when a test asks for it, an avatar that joins the room with exactly that token,
 * as the provider's own would.
 *
 * A fake refuses only what the real API refuses: missing or mistyped required fields, a wrong key,
 * a token that cannot join (bad signature, expired, no room). It accepts what the real API
 * accepts even where this worker would do otherwise: tokens of any lifetime (the official plugins
 * use the SDK's 6 h), `http(s)://` LiveKit URLs (LiveKit's SDKs, which the providers' avatars use,
 * rewrite them to `ws(s)://`), and fields it does not know (kept in `ignored`, not refused, as
 * JSON APIs ignore them). What our worker must send is asserted by its tests on `requests` and
 * `tokens`, not enforced by the fake.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TokenVerifier } from 'livekit-server-sdk';
import { z } from 'zod';
import { type FaultKnobs, KnobStore, type RecordedRequest, RequestLog } from '../knobs.js';
import { dropConnection, parseUrl, readBody, sendJson, sleep, startLoopbackServer, type LoopbackServer } from '../net.js';

export interface ProviderKnobs extends FaultKnobs {
  /** Delay before answering each HTTP request. */
  latencyMs?: number;
  /** Answer every session call with this status and a provider-shaped error (401, 402, 429, 503…). */
  status?: number;
  /** Delay between the session answer and the avatar joining. */
  joinDelayMs?: number;
  /** Accept the session but never send an avatar. */
  noAvatar?: boolean;
}

/** An avatar a fake sent into the room; tests build it (e.g. with startFakeAvatar) from the URL and token. */
export interface JoinedAvatar {
  leave(): Promise<void>;
}

/**
 * `role` says what the participant is: the avatar (it publishes the video), or a provider's second
 * participant that only hears the speech (AvatarTalk's `listener`: it publishes nothing).
 */
export type AvatarJoiner = (join: { url: string; token: string; provider: string; sessionId: string; role: 'avatar' | 'listener' }) => Promise<JoinedAvatar | undefined>;

export interface ProviderFakeOptions {
  /** The key the fake accepts; any other is refused with 401. */
  apiKey: string;
  /** The LiveKit server's key pair, to verify the token the client hands over. */
  livekit: { apiKey: string; apiSecret: string };
  /** Sends the avatar into the room; absent: nobody joins (an API-only test). */
  joinAvatar?: AvatarJoiner;
  knobs?: ProviderKnobs;
}

export interface VerifiedToken {
  identity: string;
  name?: string;
  room: string;
  kind?: string;
  attributes: Record<string, string>;
  ttlSeconds: number;
  /** The video grant as signed. */
  grants: Record<string, unknown>;
  /** The LiveKit URL handed over with it, as sent. */
  url: string;
}

export interface ProviderFake {
  /** The `apiUrl` to put in the profile. */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** Everything a real API would have refused (and this one did), with the reason. */
  readonly problems: string[];
  /** Body fields the real API does not know, which it ignores (`endpoint: path`). */
  readonly ignored: string[];
  /** Tokens the client handed over, decoded and verified. */
  readonly tokens: VerifiedToken[];
  /** Provider session ids started and ended. */
  readonly started: string[];
  readonly ended: string[];
  readonly knobs: Readonly<ProviderKnobs>;
  setKnobs(patch: Partial<ProviderKnobs>): void;
  close(): Promise<void>;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  record: RecordedRequest;
}

export interface Route {
  method: 'POST' | 'GET' | 'DELETE';
  /** Matched against the path; captures go to `params`. */
  path: RegExp;
  endpoint: string;
  /** Counts as a session call (the `status` knob applies). */
  session?: boolean;
  handle(ctx: Ctx, params: string[]): Promise<void> | void;
}

/** The state and helpers a provider's routes use. */
export class ProviderCore implements ProviderFake {
  baseUrl = '';
  readonly log = new RequestLog();
  readonly problems: string[] = [];
  readonly ignored: string[] = [];
  readonly tokens: VerifiedToken[] = [];
  readonly started: string[] = [];
  readonly ended: string[] = [];
  private readonly store: KnobStore<ProviderKnobs>;
  private readonly avatars = new Map<string, JoinedAvatar[]>();
  private server: LoopbackServer | undefined;
  private pendingJoins = new Set<Promise<unknown>>();

  constructor(
    readonly provider: string,
    readonly opts: ProviderFakeOptions,
    /** The provider's error body for a status, e.g. `{ message }`. */
    readonly errorBody: (status: number, message: string) => unknown,
  ) {
    this.store = new KnobStore(opts.knobs ?? {});
  }

  get requests(): RecordedRequest[] {
    return this.log.entries;
  }
  get knobs(): Readonly<ProviderKnobs> {
    return this.store.current;
  }
  /** For websocket endpoints: complete upgrades through this. */
  get wss(): LoopbackServer['wss'] {
    return this.server!.wss;
  }
  get signal(): AbortSignal {
    return this.server!.signal;
  }
  setKnobs(patch: Partial<ProviderKnobs>): void {
    this.store.set(patch);
  }

  async start(routes: Route[], onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): Promise<this> {
    this.server = await startLoopbackServer((req, res) => void this.dispatch(routes, req, res), onUpgrade);
    this.baseUrl = `http://127.0.0.1:${this.server.port}`;
    return this;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingJoins]);
    for (const list of this.avatars.values()) for (const a of list) await a.leave().catch(() => undefined);
    await this.server?.close();
  }

  /** Refuses the request as the real API would, and remembers why. */
  refuse(ctx: Ctx, status: number, why: string): void {
    this.problems.push(`${ctx.record.endpoint}: ${why}`);
    ctx.record.status = status;
    sendJson(ctx.res, status, this.errorBody(status, why));
  }

  answer(ctx: Ctx, status: number, body: unknown): void {
    ctx.record.status = status;
    sendJson(ctx.res, status, body);
  }

  /** Parses a JSON body against the real API's shape; refuses (`invalid`, 422 by default) and returns undefined when it does not fit. */
  json<T>(ctx: Ctx, schema: z.ZodType<T>, invalid = 422): T | undefined {
    if (!String(ctx.headers['content-type'] ?? '').startsWith('application/json')) {
      this.refuse(ctx, 415, `content-type must be application/json, got ${String(ctx.headers['content-type'])}`);
      return undefined;
    }
    let body: unknown;
    try {
      body = JSON.parse(ctx.rawBody.toString('utf8'));
    } catch {
      this.refuse(ctx, 400, 'body is not JSON');
      return undefined;
    }
    ctx.record.body = body;
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      // Unknown fields are ignored as a JSON API ignores them (the schemas list the known ones); anything else is refused.
      const refused = parsed.error.issues.filter((i) => i.code !== 'unrecognized_keys');
      if (refused.length === 0) {
        for (const i of parsed.error.issues) if (i.code === 'unrecognized_keys') for (const k of i.keys) this.ignored.push(`${ctx.record.endpoint}: ${[...i.path, k].join('.')}`);
        return body as T;
      }
      const issue = refused[0]!;
      this.refuse(ctx, invalid, `body ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      return undefined;
    }
    return parsed.data;
  }

  /** True when `value` is the configured key; refuses with 401 otherwise. */
  checkKey(ctx: Ctx, value: string | undefined, where: string): boolean {
    ctx.record.apiKey = value;
    if (value === this.opts.apiKey) return true;
    this.refuse(ctx, 401, `${where}: ${value ? 'wrong key' : 'no key'}`);
    return false;
  }

  /**
   * Verifies the LiveKit token as the LiveKit server will when the avatar joins with it (signature,
   * not expired, an identity, room join for one room). The real API cannot check those itself (it
   * has no secret), so its session would start and its avatar fail to join; the fake refuses at
   * once instead, with the reason. Everything else (kind, attributes, other grants, lifetime) is
   * recorded in `tokens` for tests to assert, not judged: a provider's avatar joins with it either way.
   */
  async verifyToken(ctx: Ctx, token: string, url: string): Promise<VerifiedToken | undefined> {
    try {
      const claims = await new TokenVerifier(this.opts.livekit.apiKey, this.opts.livekit.apiSecret).verify(token);
      const problems: string[] = [];
      const identity = claims.sub ?? '';
      if (!identity) problems.push('token has no identity');
      if (claims.video?.roomJoin !== true) problems.push('token lacks roomJoin');
      if (!claims.video?.room) problems.push('token names no room to join');
      const attributes = claims.attributes ?? {};
      const ttlSeconds = (claims.exp ?? 0) - (claims.nbf ?? Math.floor(Date.now() / 1000));
      if (problems.length) {
        this.refuse(ctx, 422, problems.join('; '));
        return undefined;
      }
      const verified: VerifiedToken = {
        identity,
        ...(claims.name ? { name: claims.name } : {}),
        room: claims.video!.room!,
        kind: claims.kind,
        attributes,
        ttlSeconds,
        grants: { ...(claims.video ?? {}) },
        url,
      };
      this.tokens.push(verified);
      return verified;
    } catch (err) {
      this.refuse(ctx, 422, `livekit token does not verify: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Sends the avatar into the room (after `joinDelayMs`), unless the test asked for none; with
   * `listenerToken`, the provider's listener participant too (AvatarTalk), at the same time.
   */
  joinLater(url: string, token: string, sessionId: string, listenerToken?: string): void {
    this.started.push(sessionId);
    this.sendIn(url, token, sessionId, 'avatar');
    if (listenerToken) this.sendIn(url, listenerToken, sessionId, 'listener');
  }

  private sendIn(url: string, token: string, sessionId: string, role: 'avatar' | 'listener'): void {
    const joiner = this.opts.joinAvatar;
    if (!joiner || this.knobs.noAvatar) return;
    const delay = this.knobs.joinDelayMs ?? 0;
    const job = (async () => {
      await sleep(delay, this.signal);
      if (this.signal.aborted || this.ended.includes(sessionId)) return;
      const avatar = await joiner({ url: toWebSocketUrl(url), token, provider: this.provider, sessionId, role });
      if (!avatar) return;
      if (this.ended.includes(sessionId)) await avatar.leave();
      else this.avatars.set(sessionId, [...(this.avatars.get(sessionId) ?? []), avatar]);
    })().catch((err: unknown) => this.problems.push(`${role} for ${sessionId} could not join: ${(err as Error).message}`));
    this.pendingJoins.add(job);
    void job.finally(() => this.pendingJoins.delete(job));
  }

  /** The provider ends a session: its avatar leaves the room. */
  async endSession(sessionId: string): Promise<boolean> {
    if (!this.started.includes(sessionId)) return false;
    if (!this.ended.includes(sessionId)) this.ended.push(sessionId);
    const list = this.avatars.get(sessionId) ?? [];
    this.avatars.delete(sessionId);
    await Promise.all(list.map((a) => a.leave().catch(() => undefined)));
    return true;
  }

  private async dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseUrl(req);
    const rawBody = await readBody(req).catch(() => Buffer.alloc(0));
    const match = routes.map((r) => ({ r, m: r.method === req.method ? r.path.exec(url.pathname) : null })).find((x) => x.m);
    const record = this.log.add({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      endpoint: match?.r.endpoint ?? 'unknown',
      fault: null,
    });
    const ctx: Ctx = { req, res, path: url.pathname, headers: req.headers, rawBody, record };
    if (!match) return this.refuse(ctx, 404, `no route ${req.method} ${url.pathname}`);
    const fault = this.store.takeFault();
    record.fault = fault;
    await sleep(this.knobs.latencyMs ?? 0, this.signal);
    if (this.signal.aborted) return;
    if (fault === 'hang') return;
    if (fault === 'drop') return dropConnection(res);
    if (fault === 'http500') return this.answer(ctx, 500, this.errorBody(500, 'internal error'));
    if (match.r.session && this.knobs.status) return this.answer(ctx, this.knobs.status, this.errorBody(this.knobs.status, `fake status ${this.knobs.status}`));
    try {
      await match.r.handle(ctx, match.m!.slice(1));
    } catch (err) {
      this.refuse(ctx, 500, `fake crashed: ${(err as Error).message}`);
    }
  }
}

/** A JWT-shaped string (the LiveKit token field). */
export const jwt = z.string().regex(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, { error: 'must be a LiveKit JWT' });
/**
 * The LiveKit URL field: a URL string. The providers' avatars join with LiveKit's SDKs, which take
 * `wss://`, `ws://`, `https://` or `http://` alike (rewriting http(s) to ws(s)), so any of those is accepted.
 */
export const livekitUrl = z.string().regex(/^(wss?|https?):\/\/[^\s]+$/, { error: 'must be a LiveKit server URL (wss://, ws://, https:// or http://)' });

/** What LiveKit's SDKs do with an http(s) server URL before connecting. */
export function toWebSocketUrl(url: string): string {
  return url.replace(/^http(s?):\/\//i, 'ws$1://');
}

export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '');
  return m?.[1];
}

/** A provider's session-start endpoint as most of them are: one POST that checks the key and the body, verifies the LiveKit token, answers, and sends the avatar. */
export interface SessionRouteSpec<B> {
  path: RegExp;
  endpoint: string;
  /** The key as the request carries it, and where (named in the 401). */
  key(ctx: Ctx): string | undefined;
  keyWhere: string;
  /** A header the real API requires besides the key (Runway's version), as [status, why] when it is wrong. */
  checkHeaders?(ctx: Ctx): [number, string] | undefined;
  body: z.ZodType<B>;
  /** The LiveKit URL and token in the body. */
  livekit(body: B): { url: string; token: string };
  /** What the real API refuses beyond the body's shape (an unknown avatar: 404), as [status, why]. */
  check?(body: B, params: string[]): [number, string] | undefined;
  /** The provider's session id for this start. */
  newId(): string;
  /** The success answer. */
  answer(body: B, id: string): [number, unknown];
}

export function sessionRoute<B>(core: ProviderCore, spec: SessionRouteSpec<B>): Route {
  return {
    method: 'POST',
    path: spec.path,
    endpoint: spec.endpoint,
    session: true,
    async handle(ctx, params) {
      if (!core.checkKey(ctx, spec.key(ctx), spec.keyWhere)) return;
      const wrongHeader = spec.checkHeaders?.(ctx);
      if (wrongHeader) return core.refuse(ctx, wrongHeader[0], wrongHeader[1]);
      const body = core.json(ctx, spec.body);
      if (!body) return;
      const refused = spec.check?.(body, params);
      if (refused) return core.refuse(ctx, refused[0], refused[1]);
      const { url, token } = spec.livekit(body);
      if (!(await core.verifyToken(ctx, token, url))) return;
      const id = spec.newId();
      const [status, answer] = spec.answer(body, id);
      core.answer(ctx, status, answer);
      core.joinLater(url, token, id);
    },
  };
}

/**
 * An end-session endpoint: the session's avatar leaves; an unknown session is `missing` (the
 * provider's own status), an ended one `missing` too unless the provider answers a repeated end as
 * the first (`repeatable`: bitHuman's "calling it again returns the same answer").
 */
export function endRoute(
  core: ProviderCore,
  spec: { method: Route['method']; path: RegExp; key(ctx: Ctx): string | undefined; keyWhere: string; missing: number; repeatable?: boolean; answer?(id: string): unknown },
): Route {
  const answer = spec.answer ?? ((id: string) => ({ id, status: 'ended' }));
  return {
    method: spec.method,
    path: spec.path,
    endpoint: 'end',
    async handle(ctx, [id]) {
      if (!core.checkKey(ctx, spec.key(ctx), spec.keyWhere)) return;
      // Ending an ended session is how a client learns it is over, not a mistake: answered, not counted as a problem.
      if (core.ended.includes(id!)) return spec.repeatable ? core.answer(ctx, 200, answer(id!)) : core.answer(ctx, spec.missing, core.errorBody(spec.missing, `session ${id} already ended`));
      if (!(await core.endSession(id!))) return core.refuse(ctx, spec.missing, `session ${id} not found`);
      core.answer(ctx, 200, answer(id!));
    },
  };
}

/** The header `name` of a request, as one string. */
export const header = (name: string) => (ctx: Ctx) => ctx.headers[name] as string | undefined;
/** The Bearer credential of a request. */
export const bearerOf = (ctx: Ctx) => bearer(ctx.headers.authorization);

/**
 * Knobs shared by the fake cloud servers: injected latency and faults that a test can change while
 * a fake is running, and the log of what clients sent, so a test can assert on the request itself.
 */
import type { IncomingHttpHeaders } from 'node:http';

/**
 * A failure to inject into the next requests (HTTP) or connections (WebSocket).
 * - `http500`: answer 500 (a JSON error body shaped like the provider's; for WebSockets the upgrade is refused).
 * - `drop`: start answering, then destroy the socket without a clean close (after the first chunk/result).
 * - `hang`: accept the request or connection and never answer (until the client gives up or the fake closes).
 */
export type Fault = 'http500' | 'drop' | 'hang' | null;

export interface FaultKnobs {
  fault?: Fault;
  /**
   * Apply `fault` to this many upcoming requests/connections only, then clear it (1 = "fail once,
   * then recover", to test a client's retry). Unset: every request until the knob is changed.
   */
  faultTimes?: number;
}

/** Mutable knobs of one fake (or one endpoint of a fake). */
export class KnobStore<K extends FaultKnobs> {
  #knobs: K;
  #faultsLeft: number | undefined;

  constructor(initial: K) {
    this.#knobs = { ...initial };
    this.#faultsLeft = initial.faultTimes;
  }

  get current(): Readonly<K> {
    return this.#knobs;
  }

  /** Merges `patch` into the knobs; setting `fault` or `faultTimes` restarts the fault counter. */
  set(patch: Partial<K>): void {
    this.#knobs = { ...this.#knobs, ...patch };
    if ('fault' in patch || 'faultTimes' in patch) this.#faultsLeft = this.#knobs.faultTimes;
  }

  /** The fault to apply to one new request or connection; consumes one of `faultTimes`. */
  takeFault(): Fault {
    const fault = this.#knobs.fault ?? null;
    if (fault === null) return null;
    if (this.#faultsLeft !== undefined) {
      if (this.#faultsLeft <= 0) return null;
      this.#faultsLeft -= 1;
    }
    return fault;
  }
}

/** One HTTP request or WebSocket connection as a fake received it. */
export interface RecordedRequest {
  /** 1, 2, 3... in arrival order, per fake. */
  seq: number;
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Which endpoint of the fake handled it, e.g. `chat`, `speech`, `listen`, `multi-stream-input`. */
  endpoint: string;
  /** The credential the client presented (the value after `Token `/`Bearer `, or `xi-api-key`), if any. */
  apiKey?: string;
  /** The fault applied to this request, if any. */
  fault: Fault;
  /** HTTP status answered (101 for an accepted WebSocket). Unset while hanging. */
  status?: number;
  /** Parsed JSON body, or the multipart fields (files as `{ filename, type, size }`). */
  body?: unknown;
  /** WebSocket only: text messages received, JSON-parsed when possible, in order. */
  messages?: unknown[];
  /** WebSocket only: total bytes received in binary messages. */
  binaryBytes?: number;
  /** WebSocket only: how many binary messages (audio chunks) arrived. */
  binaryMessages?: number;
  /** WebSocket only: JSON messages the fake sent (audio payloads included), in order. */
  sent?: unknown[];
  /**
   * Streamed HTTP answers: when each part of the body was handed to the socket (ms since the
   * epoch, as `at`), so a bench can tell the fake's own lateness (its timers on a busy machine)
   * from the client's.
   */
  writes?: number[];
  /** HTTP: the request opened its connection (and so paid the fake's `connectMs`, where it has one). */
  newConnection?: boolean;
}

/** Shared bookkeeping of received requests, so every fake exposes `requests` the same way. */
export class RequestLog {
  readonly entries: RecordedRequest[] = [];

  add(entry: Omit<RecordedRequest, 'seq' | 'at'>): RecordedRequest {
    const recorded: RecordedRequest = { seq: this.entries.length + 1, at: Date.now(), ...entry };
    this.entries.push(recorded);
    return recorded;
  }

  /** Requests handled by one endpoint. */
  for(endpoint: string): RecordedRequest[] {
    return this.entries.filter((r) => r.endpoint === endpoint);
  }
}

/** Extracts the key from `Authorization: Token <key>` / `Bearer <key>`. */
export function credentialFromAuthorization(header: string | undefined, scheme: 'Token' | 'Bearer'): string | undefined {
  if (!header) return undefined;
  const match = new RegExp(`^${scheme}\\s+(.+)$`, 'i').exec(header.trim());
  return match?.[1];
}

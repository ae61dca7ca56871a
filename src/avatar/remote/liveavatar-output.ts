import { randomUUID } from 'node:crypto';
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { z } from 'zod';
import { downmixInterleaved } from '../../audio/pcm.js';
import type { SegmentTimings } from '../local/avatar-output.js';
import type { RemoteOutput } from './launcher.js';

/** LiveAvatar LITE takes PCM16 mono at 24 kHz, base64, ~1 s per message (at most 1 MB). */
export const LIVEAVATAR_SAMPLE_RATE = 24_000;
/**
 * A reply's first message carries at least 0.6 s (enough for the avatar to start without running
 * dry), the next ones about 1 s each: LiveAvatar's documented size ("~1 s, max 1 MB") and what
 * LiveKit's LiveAvatar plugin sends.
 */
export const FIRST_CHUNK_S = 0.6;
export const NEXT_CHUNK_S = 1.0;
/** If the avatar does not say it started speaking, playback start is taken as this long after the first audio went out. */
const STARTED_FALLBACK_MS = 1500;
/** How early a speak_ended may come against our own estimate of the playout end (clock and timer slack). */
const STALE_SPEAK_ENDED_SLACK_MS = 300;

const eventSchema = z.object({ type: z.string(), event_id: z.string().optional(), state: z.string().optional() }).loose();

interface Segment {
  id: string;
  pushedS: number;
  closed: boolean;
  firstAudioAt: number;
  startedAt?: number;
  finished: boolean;
  /** Seconds sent when the avatar said it had finished speaking before the segment was closed (it ran dry). */
  dryAtS?: number;
  /** Wall clock before which the audio sent so far cannot have played out, and the last chunk's length (ms). */
  playsUntil: number;
  lastChunkMs: number;
}

export interface LiveAvatarOutputOptions {
  wsUrl: string;
  logger: Logger;
  keepAliveSec: number;
  playoutGraceMs?: number;
}

/**
 * The agent's speech to a LiveAvatar LITE session over its websocket (not DataStream): frames from
 * agents' QueueAudioOutput become `agent.speak` messages, a segment end `agent.speak_end`, an
 * interruption `agent.interrupt`. The avatar's `agent.speak_started` / `agent.speak_ended` drive
 * playback started / finished; an interruption finishes at once (LiveAvatar sends no position),
 * at the estimated position heard. `session.keep_alive` keeps an idle session from timing out.
 *
 * An `agent.speak_ended` that comes while the reply is still arriving (the avatar played all it had
 * and the voice is slower than real time) does not end the reply: the rest is still sent, and the
 * reply ends with the avatar's next `agent.speak_ended`, or at once if nothing more came. As
 * LiveKit's plugin does, `agent.start_listening` follows each reply's `agent.speak_end` (and an
 * interruption), and `agent.stop_listening` is sent when the agent goes idle.
 */
export class LiveAvatarOutput extends voice.QueueAudioOutput implements RemoteOutput {
  readonly lost: Promise<string>;
  private readonly ws: WebSocket;
  private readonly log: Logger;
  private readonly playoutGraceMs: number;
  private resolveLost!: (reason: string) => void;
  private connected = false;
  private outbox: string[] = [];
  private segments: Segment[] = [];
  /** Ids of segments already finished, so a late event about one cannot end the next. */
  private readonly finishedIds = new Set<string>();
  private capturing = false;
  /** AudioSegmentEnd markers written to the queue and not yet read. */
  private endsQueued = 0;
  /** Markers to read, dropping everything before them, after an interruption. */
  private dropThroughEnds = 0;
  private pcm: Int16Array[] = [];
  private pcmSamples = 0;
  private keepAlive: NodeJS.Timeout;
  private watchdog: NodeJS.Timeout | undefined;
  private queueEndsAt = 0;
  private lostReason: string | undefined;
  private shut = false;
  private unbind: (() => void) | undefined;
  private readonly pump: Promise<void>;

  constructor(opts: LiveAvatarOutputOptions) {
    super(LIVEAVATAR_SAMPLE_RATE);
    this.log = opts.logger;
    this.playoutGraceMs = opts.playoutGraceMs ?? 10_000;
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    this.ws = new WebSocket(opts.wsUrl, { perMessageDeflate: false });
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onEvent(data.toString());
    });
    this.ws.on('error', (err) => this.log.warn({ err: err.message }, 'LiveAvatar websocket error'));
    this.ws.on('close', (code) => {
      if (!this.shut) this.markLost(`LiveAvatar closed its websocket (code ${code})`);
    });
    this.keepAlive = setInterval(() => this.send({ type: 'session.keep_alive', event_id: randomUUID() }), opts.keepAliveSec * 1000);
    this.keepAlive.unref();
    this.on('clear_buffer', (ev: voice.QueueAudioOutputClearEvent) => this.onClear(ev));
    this.pump = this.forward();
  }

  onSegmentTimings(listener: (t: SegmentTimings) => void): void {
    this.on('segment_timings', listener);
  }

  bindSession(session: voice.AgentSession): void {
    this.unbind?.();
    const onState = (ev: voice.AgentStateChangedEvent) => {
      if (ev.newState === 'idle') this.send({ type: 'agent.stop_listening', event_id: randomUUID() });
    };
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
    this.unbind = () => session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    if (!this.capturing) {
      this.capturing = true;
      this.segments.push({ id: randomUUID(), pushedS: 0, closed: false, firstAudioAt: Date.now(), finished: false, playsUntil: 0, lastChunkMs: 0 });
    }
    await super.captureFrame(frame);
    if (this.lostReason !== undefined) this.finishAll(true);
  }

  override flush(): void {
    if (this.capturing) this.endsQueued++;
    this.capturing = false;
    super.flush();
  }

  override clearBuffer(): void {
    if (this.capturing) this.endsQueued++;
    this.capturing = false;
    // Everything queued up to the last segment end belongs to what was interrupted.
    this.dropThroughEnds = this.endsQueued;
    super.clearBuffer();
  }

  markLost(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    this.finishAll(true);
    this.resolveLost(reason);
  }

  async close(): Promise<void> {
    if (this.shut) return;
    this.shut = true;
    this.unbind?.();
    clearInterval(this.keepAlive);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.finishAll(true);
    await this.aclose();
    await this.pump.catch(() => {});
    this.ws.close(1000);
  }

  private async forward(): Promise<void> {
    const reader = this.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value instanceof voice.AudioSegmentEnd) {
        this.endsQueued = Math.max(0, this.endsQueued - 1);
        if (this.dropThroughEnds > 0) {
          this.dropThroughEnds--;
          this.discardChunk();
          continue;
        }
        this.endSegment();
        continue;
      }
      if (this.dropThroughEnds > 0 || this.lostReason !== undefined) continue;
      this.addAudio(value);
    }
  }

  private current(): Segment | undefined {
    return this.segments.find((s) => !s.closed && !s.finished);
  }

  private addAudio(frame: AudioFrame): void {
    const seg = this.current();
    if (!seg) return;
    const mono = downmixInterleaved(frame.data, frame.channels);
    this.pcm.push(mono);
    this.pcmSamples += mono.length;
    const threshold = (seg.pushedS === 0 ? FIRST_CHUNK_S : NEXT_CHUNK_S) * LIVEAVATAR_SAMPLE_RATE;
    if (this.pcmSamples >= threshold) this.sendChunk(seg);
  }

  private sendChunk(seg: Segment): void {
    if (this.pcmSamples === 0) return;
    const joined = new Int16Array(this.pcmSamples);
    let at = 0;
    for (const part of this.pcm) {
      joined.set(part, at);
      at += part.length;
    }
    const firstChunk = seg.pushedS === 0;
    const chunkMs = (this.pcmSamples / LIVEAVATAR_SAMPLE_RATE) * 1000;
    seg.playsUntil = Math.max(seg.playsUntil, Date.now()) + chunkMs;
    seg.lastChunkMs = chunkMs;
    seg.pushedS += this.pcmSamples / LIVEAVATAR_SAMPLE_RATE;
    this.discardChunk();
    this.send({ type: 'agent.speak', event_id: seg.id, audio: Buffer.from(joined.buffer, joined.byteOffset, joined.byteLength).toString('base64') });
    if (firstChunk) {
      setTimeout(() => {
        if (seg.startedAt === undefined && !seg.finished) this.started(seg, Date.now());
      }, STARTED_FALLBACK_MS).unref();
    }
  }

  private discardChunk(): void {
    this.pcm = [];
    this.pcmSamples = 0;
  }

  private endSegment(): void {
    const seg = this.current();
    if (!seg) return;
    this.sendChunk(seg);
    seg.closed = true;
    this.send({ type: 'agent.speak_end', event_id: seg.id });
    this.send({ type: 'agent.start_listening', event_id: randomUUID() });
    if (seg.dryAtS !== undefined && seg.dryAtS === seg.pushedS) {
      // The avatar already played everything and said so; no further speak_ended will come.
      this.finish(seg, false);
      return;
    }
    this.queueEndsAt = Math.max(this.queueEndsAt, Date.now()) + seg.pushedS * 1000;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      const unanswered = this.segments.filter((s) => s.closed && !s.finished);
      if (unanswered.length === 0) return;
      this.log.warn({ segments: unanswered.length }, 'LiveAvatar never reported the speech played; finishing it');
      for (const s of unanswered) this.finish(s, false);
    }, this.queueEndsAt + this.playoutGraceMs - Date.now());
    this.watchdog.unref();
  }

  private onClear(ev: voice.QueueAudioOutputClearEvent): void {
    const unfinished = this.segments.filter((s) => !s.finished);
    if (unfinished.length === 0 && !ev.wasCapturing) return;
    this.discardChunk();
    this.send({ type: 'agent.interrupt', event_id: randomUUID() });
    // The user is speaking (that is what interrupted the reply): the avatar listens.
    this.send({ type: 'agent.start_listening', event_id: randomUUID() });
    this.finishAll(true);
  }

  private onEvent(text: string): void {
    let parsed;
    try {
      parsed = eventSchema.safeParse(JSON.parse(text));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const ev = parsed.data;
    if (ev.type === 'session.state_updated') {
      if (ev.state === 'connected' && !this.connected) {
        this.connected = true;
        for (const msg of this.outbox.splice(0)) this.ws.send(msg);
      } else if (ev.state === 'closed' || ev.state === 'closing') {
        if (!this.shut) this.markLost(`LiveAvatar session ${ev.state}`);
      }
      return;
    }
    const seg = this.segmentFor(ev.event_id);
    if (!seg) return;
    if (ev.type === 'agent.speak_started') {
      // Speaking again after running dry (audio that was on its way when it said so): its speak_ended is still to come.
      seg.dryAtS = undefined;
      this.started(seg, Date.now());
    } else if (ev.type === 'agent.speak_ended') {
      // Said about audio sent before the last chunk (it ran dry, and its message crossed ours on the
      // wire): the last chunk cannot have played yet, so this is not the reply's end. The avatar says
      // speak_started and speak_ended again for the rest; the watchdog covers one that never comes.
      if (Date.now() < seg.playsUntil - Math.min(STALE_SPEAK_ENDED_SLACK_MS, seg.lastChunkMs / 2)) {
        this.log.debug({ eventId: seg.id }, 'LiveAvatar speak_ended about earlier audio; waiting for the rest to play');
        return;
      }
      // Ran dry mid-reply: the rest is still coming, and is still sent.
      if (!seg.closed) seg.dryAtS = seg.pushedS;
      else this.finish(seg, false);
    }
  }

  /** The segment an event is about: the one with its event_id, else the oldest still playing. */
  private segmentFor(eventId: string | undefined): Segment | undefined {
    if (eventId && this.finishedIds.has(eventId)) return undefined;
    const byId = eventId ? this.segments.find((s) => s.id === eventId) : undefined;
    if (byId) return byId;
    return this.segments.find((s) => !s.finished);
  }

  private started(seg: Segment, at: number): void {
    if (seg.startedAt !== undefined) return;
    seg.startedAt = at;
    this.onPlaybackStarted(at);
    this.emit('segment_timings', { firstAudioAt: seg.firstAudioAt, firstSpeakingFrameAt: at } satisfies SegmentTimings);
  }

  private finish(seg: Segment, interrupted: boolean): void {
    if (seg.finished) return;
    seg.finished = true;
    // LiveAvatar sends no position: what was heard is what had time to play since it started.
    const heard = interrupted ? (seg.startedAt === undefined ? 0 : Math.min(seg.pushedS, (Date.now() - seg.startedAt) / 1000)) : seg.pushedS;
    this.segments = this.segments.filter((s) => s !== seg);
    this.finishedIds.add(seg.id);
    if (this.finishedIds.size > 64) this.finishedIds.delete(this.finishedIds.values().next().value!);
    if (this.pendingPlayoutSegments > 0) this.notifyPlaybackFinished(heard, interrupted);
    if (!this.segments.some((s) => s.closed)) this.queueEndsAt = 0;
  }

  private finishAll(interrupted: boolean): void {
    for (const seg of [...this.segments]) {
      if (seg.closed || interrupted) this.finish(seg, interrupted);
    }
  }

  private send(msg: Record<string, unknown>): void {
    if (this.shut || this.lostReason !== undefined) return;
    const text = JSON.stringify(msg);
    if (!this.connected || this.ws.readyState !== WebSocket.OPEN) {
      // Until LiveAvatar says the session is connected, hold messages (in order); keep-alives need not wait.
      if (msg.type !== 'session.keep_alive') this.outbox.push(text);
      return;
    }
    this.ws.send(text);
  }
}

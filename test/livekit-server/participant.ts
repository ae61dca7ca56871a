/**
 * One participant's session: its state as other clients see it (ParticipantInfo), its two peer
 * connections (publisher: the client offers; subscriber: the server offers, as a LiveKit server
 * does with `subscriberPrimary: false`), the tracks it publishes and the ones it subscribes to, and
 * the handling of every SignalRequest it sends. Effects on other participants go through the Room.
 */
import {
  type AudioTrackFeature,
  DisconnectReason,
  LeaveRequest,
  LeaveRequest_Action,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  ParticipantPermission,
  ParticipantUpdate,
  Pong,
  RequestResponse,
  RequestResponse_Reason,
  SessionDescription,
  SignalRequest,
  SignalResponse,
  SignalTarget,
  TrackInfo,
  TrackPublishedResponse,
  TrackSource,
  TrackSubscribed,
  TrackType,
  TrackUnpublishedResponse,
  TrickleRequest,
  type AddTrackRequest,
  type DataPacket,
  type MuteTrackRequest,
  type UpdateParticipantMetadata,
  type UpdateSubscription,
} from '@livekit/protocol';
import type { VerifiedClaims } from './auth.js';
import { decodeDataPacket, LOSSY_LABEL, RELIABLE_LABEL, stampSender } from './data.js';
import { newSid } from './ids.js';
import { errorText, type ServerLog } from './log.js';
import { MediaRelay, type RelayStats } from './media.js';
import { parseCandidateInit, Peer, streamWithId } from './peer.js';

/** What the participant needs from its signal connection. */
export interface SignalSink {
  send(message: SignalResponse['message']): void;
  close(code: number, reason: string): void;
}

/** What the participant needs from its room. */
export interface RoomHooks {
  readonly log: ServerLog;
  onActive(participant: Participant): void;
  onChanged(participant: Participant, opts: { skipSelf: boolean }): void;
  onTrackPublished(participant: Participant, track: PublishedTrack): void;
  onTrackUnpublished(participant: Participant, track: PublishedTrack): void;
  onLeave(participant: Participant, reason: DisconnectReason): void;
  onData(participant: Participant, packet: DataPacket, label: string): void;
  findTrack(trackSid: string): PublishedTrack | undefined;
}

export interface PublishedTrack {
  readonly info: TrackInfo;
  readonly owner: Participant;
  readonly relay: MediaRelay;
  readonly transceiver: RTCRtpTransceiver;
}

interface Subscription {
  track: PublishedTrack;
  sender: RTCRtpSender;
}

export interface ParticipantOptions {
  claims: VerifiedClaims;
  permission: ParticipantPermission;
  signal: SignalSink;
  autoSubscribe: boolean;
  clientProtocol: number;
  room: RoomHooks;
}

/**
 * The server's receiving side of one published track (standard inbound-rtp statistics, as wrtc
 * reports them): how long its jitter buffer held what it played out, cumulatively.
 */
export interface InboundTrackStats {
  /** The published track's sid. */
  sid: string;
  name: string;
  kind: 'audio' | 'video';
  /** Seconds, summed over every sample (audio) or frame (video) emitted. */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  packetsReceived: number;
  /** The id of the track the server forwards it as: what subscribers' inbound-rtp name `trackIdentifier`. */
  forwardedTrackId: string;
}

/** Plain snapshot for tests. */
export interface ParticipantSnapshot {
  sid: string;
  identity: string;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  kind: ParticipantInfo_Kind;
  state: ParticipantInfo_State;
  version: number;
  tracks: { sid: string; name: string; type: TrackType; source: TrackSource; muted: boolean; mimeType: string; audioFeatures: AudioTrackFeature[]; media: RelayStats }[];
  subscribedTo: string[];
  dataChannels: string[];
}

export class Participant {
  readonly sid = newSid('PA_');
  readonly identity: string;
  readonly kind: ParticipantInfo_Kind;
  readonly joinedAtMs = Date.now();
  readonly autoSubscribe: boolean;
  readonly clientProtocol: number;
  permission: ParticipantPermission;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  state = ParticipantInfo_State.JOINING;
  disconnectReason = DisconnectReason.UNKNOWN_REASON;
  /** Tracks this participant publishes, by track sid. */
  readonly tracks = new Map<string, PublishedTrack>();
  private version = 0;
  private readonly pendingTracks = new Map<string, TrackInfo>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly dataChannels = new Map<string, RTCDataChannel>();
  private readonly publisher: Peer;
  private readonly subscriber: Peer;
  private readonly signal: SignalSink;
  private readonly room: RoomHooks;
  private readonly log: ServerLog;
  /** Signal requests run one at a time, in order: an offer must be applied before its candidates. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: ParticipantOptions) {
    const { claims } = opts;
    this.identity = claims.identity;
    this.name = claims.name;
    this.metadata = claims.metadata;
    this.attributes = { ...claims.attributes };
    this.kind = claims.kind;
    this.permission = opts.permission;
    this.signal = opts.signal;
    this.room = opts.room;
    this.log = opts.room.log;
    this.autoSubscribe = opts.autoSubscribe;
    this.clientProtocol = opts.clientProtocol;

    const trickle = (target: SignalTarget) => (candidateInit: string) =>
      this.send({ case: 'trickle', value: new TrickleRequest({ target, candidateInit }) });
    this.publisher = new Peer(SignalTarget.PUBLISHER, `${this.identity}/publisher`, {
      onLocalCandidate: trickle(SignalTarget.PUBLISHER),
      onConnectionState: (state) => {
        if (state === 'connected') this.becomeActiveWhenReady();
        if (state === 'failed') this.log.warn(`${this.identity}: publisher connection failed`);
      },
    }, this.log);
    this.subscriber = new Peer(SignalTarget.SUBSCRIBER, `${this.identity}/subscriber`, {
      onLocalCandidate: trickle(SignalTarget.SUBSCRIBER),
      onOffer: (sdp, id) => this.send({ case: 'offer', value: new SessionDescription({ type: 'offer', sdp, id }) }),
    }, this.log);
    this.publisher.pc.ondatachannel = (event) => this.onDataChannel(event.channel);
    this.publisher.pc.ontrack = (event) => this.onRemoteTrack(event.track, event.transceiver);
  }

  get hidden(): boolean {
    return this.permission.hidden;
  }

  /**
   * Agents, egress and recorders (Go's IsDependent): they do not keep a room open, do not count
   * toward maxParticipants and do not trigger agent dispatch.
   */
  get isDependent(): boolean {
    return this.kind === ParticipantInfo_Kind.AGENT || this.kind === ParticipantInfo_Kind.EGRESS || this.permission.agent || this.permission.recorder;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** ParticipantInfo as clients see it; `version` grows with every change. */
  info(): ParticipantInfo {
    return new ParticipantInfo({
      sid: this.sid,
      identity: this.identity,
      name: this.name,
      state: this.state,
      tracks: [...this.tracks.values()].map((track) => track.info.clone()),
      metadata: this.metadata,
      joinedAt: BigInt(Math.floor(this.joinedAtMs / 1000)),
      joinedAtMs: BigInt(this.joinedAtMs),
      version: this.version,
      permission: this.permission.clone(),
      isPublisher: this.tracks.size > 0,
      kind: this.kind,
      attributes: { ...this.attributes },
      disconnectReason: this.disconnectReason,
      clientProtocol: this.clientProtocol,
    });
  }

  /** Marks a change others must see; call before broadcasting. */
  bumpVersion(): void {
    this.version++;
  }

  send(message: SignalResponse['message']): void {
    if (this.closed) return;
    this.signal.send(message);
  }

  sendUpdate(participants: ParticipantInfo[]): void {
    if (participants.length === 0) return;
    this.send({ case: 'update', value: new ParticipantUpdate({ participants }) });
  }

  /** Runs a request from the signal connection after the ones before it. */
  enqueue(request: SignalRequest): void {
    const message = request.message;
    // Pings answer at once so a slow negotiation does not look like a dead connection.
    if (message.case === 'ping') {
      this.send({ case: 'pong', value: BigInt(Date.now()) });
      return;
    }
    if (message.case === 'pingReq') {
      this.send({ case: 'pongResp', value: new Pong({ lastPingTimestamp: message.value.timestamp, timestamp: BigInt(Date.now()) }) });
      return;
    }
    this.queue = this.queue.then(() => this.handle(request)).catch((error: unknown) => {
      this.log.error(`${this.identity}: ${message.case ?? 'empty request'} failed: ${errorText(error)}`);
    });
  }

  private async handle(request: SignalRequest): Promise<void> {
    if (this.closed) return;
    const message = request.message;
    switch (message.case) {
      case 'offer': {
        const sdp = await this.publisher.answer(message.value.sdp);
        this.send({ case: 'answer', value: new SessionDescription({ type: 'answer', sdp, id: message.value.id }) });
        this.detectUnpublishedTracks();
        return;
      }
      case 'answer':
        await this.subscriber.acceptAnswer(message.value.sdp);
        return;
      case 'trickle': {
        const peer = message.value.target === SignalTarget.SUBSCRIBER ? this.subscriber : this.publisher;
        try {
          await peer.addRemoteCandidate(parseCandidateInit(message.value.candidateInit));
        } catch (error) {
          this.log.warn(`${this.identity}: bad candidate for ${SignalTarget[peer.target]}: ${errorText(error)}`);
        }
        return;
      }
      case 'addTrack':
        this.addTrack(message.value);
        return;
      case 'mute':
        this.mute(message.value);
        return;
      case 'subscription':
        this.updateSubscription(message.value);
        return;
      case 'updateMetadata':
        this.updateMetadata(message.value);
        return;
      case 'leave':
        this.log.info(`${this.identity}: leaves (${DisconnectReason[message.value.reason] ?? message.value.reason})`);
        this.room.onLeave(this, DisconnectReason.CLIENT_INITIATED);
        return;
      case 'updateAudioTrack': {
        const track = this.tracks.get(message.value.trackSid);
        if (!track) return;
        track.info.audioFeatures = message.value.features;
        this.room.onChanged(this, { skipSelf: true });
        return;
      }
      case 'updateVideoTrack': {
        const track = this.tracks.get(message.value.trackSid);
        if (!track) return;
        track.info.width = message.value.width;
        track.info.height = message.value.height;
        this.room.onChanged(this, { skipSelf: true });
        return;
      }
      // Accepted and ignored: quality/adaptive-stream hints, permissions, resume state, chaos tests.
      case 'trackSetting':
      case 'updateLayers':
      case 'subscriptionPermission':
      case 'syncState':
      case 'simulate':
        this.log.debug(`${this.identity}: ${message.case} ignored`);
        return;
      default:
        this.log.info(`${this.identity}: unsupported request ${message.case ?? '(empty)'} ignored`);
    }
  }

  private addTrack(request: AddTrackRequest): void {
    const canPublish =
      this.permission.canPublish &&
      (this.permission.canPublishSources.length === 0 || this.permission.canPublishSources.includes(request.source));
    if (!canPublish) {
      this.log.warn(`${this.identity}: may not publish ${request.name || request.cid}`);
      this.send({
        case: 'requestResponse',
        value: new RequestResponse({ reason: RequestResponse_Reason.NOT_ALLOWED, message: 'does not have permission to publish', request: { case: 'addTrack', value: request } }),
      });
      return;
    }
    const existing = this.pendingTracks.get(request.cid);
    const info =
      existing ??
      new TrackInfo({
        sid: newSid('TR_'),
        type: request.type,
        name: request.name,
        source: request.source,
        muted: request.muted,
        width: request.width,
        height: request.height,
        layers: request.layers,
        simulcast: request.layers.length > 1,
        disableDtx: request.disableDtx,
        stereo: request.stereo,
        disableRed: request.disableRed,
        encryption: request.encryption,
        stream: request.stream,
        audioFeatures: request.audioFeatures,
        backupCodecPolicy: request.backupCodecPolicy,
      });
    this.pendingTracks.set(request.cid, info);
    this.send({ case: 'trackPublished', value: new TrackPublishedResponse({ cid: request.cid, track: info }) });
  }

  /**
   * A track arrived on the publisher connection. The client's AddTrackRequest named it by `cid`,
   * which is the track id in the SDP's msid; a track that matches no cid (browsers may differ)
   * takes the oldest pending request of its kind.
   */
  private onRemoteTrack(track: MediaStreamTrack, transceiver: RTCRtpTransceiver): void {
    if (this.closed) return;
    let cid: string | undefined = this.pendingTracks.has(track.id) ? track.id : undefined;
    if (!cid) {
      const wanted = track.kind === 'audio' ? TrackType.AUDIO : TrackType.VIDEO;
      cid = [...this.pendingTracks.entries()].find(([, info]) => info.type === wanted)?.[0];
    }
    const info = cid === undefined ? undefined : this.pendingTracks.get(cid);
    if (cid === undefined || !info) {
      this.log.warn(`${this.identity}: ${track.kind} track ${track.id} arrived without an AddTrackRequest, ignored`);
      return;
    }
    this.pendingTracks.delete(cid);
    info.mid = transceiver.mid ?? '';
    info.mimeType = transceiver.receiver.getParameters().codecs[0]?.mimeType ?? (track.kind === 'audio' ? 'audio/opus' : 'video/VP8');
    const published: PublishedTrack = { info, owner: this, relay: new MediaRelay(track), transceiver };
    this.tracks.set(info.sid, published);
    this.log.info(`${this.identity}: published ${track.kind} ${info.sid} "${info.name}" (${info.mimeType})`);
    this.room.onTrackPublished(this, published);
  }

  /** After a publisher renegotiation: a track whose sender went away is unpublished. */
  private detectUnpublishedTracks(): void {
    for (const track of [...this.tracks.values()]) {
      const direction = track.transceiver.currentDirection;
      if (direction === 'inactive' || direction === 'sendonly' || direction === 'stopped') this.unpublish(track);
    }
  }

  unpublish(track: PublishedTrack): void {
    if (!this.tracks.delete(track.info.sid)) return;
    track.relay.stop();
    this.log.info(`${this.identity}: unpublished ${track.info.sid}`);
    this.send({ case: 'trackUnpublished', value: new TrackUnpublishedResponse({ trackSid: track.info.sid }) });
    this.room.onTrackUnpublished(this, track);
  }

  private mute(request: MuteTrackRequest): void {
    const track = this.tracks.get(request.sid);
    if (!track) {
      this.log.warn(`${this.identity}: mute for unknown track ${request.sid}`);
      return;
    }
    if (track.info.muted === request.muted) return;
    track.info.muted = request.muted;
    this.room.onChanged(this, { skipSelf: true });
  }

  private updateSubscription(request: UpdateSubscription): void {
    const sids = [...request.trackSids, ...request.participantTracks.flatMap((pt) => pt.trackSids)];
    for (const sid of sids) {
      if (!request.subscribe) {
        this.unsubscribe(sid);
        continue;
      }
      const track = this.room.findTrack(sid);
      if (track) this.subscribe(track);
      else this.log.warn(`${this.identity}: subscription to unknown track ${sid}`);
    }
  }

  private updateMetadata(request: UpdateParticipantMetadata): void {
    const respond = (reason: RequestResponse_Reason, message = '') =>
      this.send({
        case: 'requestResponse',
        value: new RequestResponse({ requestId: request.requestId, reason, message, request: { case: 'updateMetadata', value: request } }),
      });
    if (!this.permission.canUpdateMetadata) {
      respond(RequestResponse_Reason.NOT_ALLOWED, 'does not have permission to update own metadata');
      return;
    }
    this.applyMetadata(request);
    respond(RequestResponse_Reason.OK);
  }

  /** Name/metadata/attribute changes (from the client or RoomService); empty attribute values delete. */
  applyMetadata(update: { name?: string; metadata?: string; attributes?: Record<string, string> }): void {
    let changed = false;
    if (update.name && update.name !== this.name) {
      this.name = update.name;
      changed = true;
    }
    if (update.metadata && update.metadata !== this.metadata) {
      this.metadata = update.metadata;
      changed = true;
    }
    for (const [key, value] of Object.entries(update.attributes ?? {})) {
      if (value === '' ? key in this.attributes : this.attributes[key] !== value) changed = true;
      if (value === '') delete this.attributes[key];
      else this.attributes[key] = value;
    }
    if (changed) this.room.onChanged(this, { skipSelf: false });
  }

  /** Adds `track` to this participant's subscriber connection, keyed for the client by msid. */
  subscribe(track: PublishedTrack): void {
    if (this.closed || !this.permission.canSubscribe || track.owner === this) return;
    if (this.subscriptions.has(track.info.sid)) return;
    // rtc-node and livekit-client split the stream id into participant sid | track sid.
    const sender = this.subscriber.pc.addTrack(track.relay.outgoing, streamWithId(`${track.owner.sid}|${track.info.sid}`));
    this.subscriptions.set(track.info.sid, { track, sender });
    this.subscriber.negotiate();
    this.log.debug(`${this.identity}: subscribed to ${track.owner.identity}/${track.info.sid}`);
    track.owner.send({ case: 'trackSubscribed', value: new TrackSubscribed({ trackSid: track.info.sid }) });
  }

  unsubscribe(trackSid: string): void {
    const subscription = this.subscriptions.get(trackSid);
    if (!subscription) return;
    this.subscriptions.delete(trackSid);
    if (this.closed) return;
    try {
      this.subscriber.pc.removeTrack(subscription.sender);
    } catch (error) {
      this.log.warn(`${this.identity}: removeTrack ${trackSid} failed: ${errorText(error)}`);
    }
    this.subscriber.negotiate();
  }

  /** Sends a (sender-stamped) data packet on this participant's channel of the same kind. */
  deliverData(bytes: Uint8Array, label: string): boolean {
    const channel = this.dataChannels.get(label) ?? this.dataChannels.get(RELIABLE_LABEL);
    if (!channel || channel.readyState !== 'open') return false;
    channel.send(bytes as Uint8Array<ArrayBuffer>);
    return true;
  }

  /**
   * ACTIVE as the Go server has it (stateActiveCond: the primary connection up, and the reliable and
   * lossy data channels open): only then is the participant subscribed to what is published, and
   * only then do clients that wait for an active agent (livekit-client's pre-connect buffer) send
   * it data, which the server could not deliver before its channels were open. The publisher
   * connection is the primary one here (subscriberPrimary: false); data to the participant rides
   * on the channels it opened there.
   */
  private becomeActiveWhenReady(): void {
    if (this.state === ParticipantInfo_State.ACTIVE || this.closed) return;
    if (this.publisher.pc.connectionState !== 'connected') return;
    for (const label of [RELIABLE_LABEL, LOSSY_LABEL]) if (this.dataChannels.get(label)?.readyState !== 'open') return;
    this.state = ParticipantInfo_State.ACTIVE;
    this.room.onChanged(this, { skipSelf: false });
    this.room.onActive(this);
  }

  private onDataChannel(channel: RTCDataChannel): void {
    channel.binaryType = 'arraybuffer';
    this.dataChannels.set(channel.label, channel);
    if (channel.readyState === 'open') this.becomeActiveWhenReady();
    else channel.addEventListener('open', () => this.becomeActiveWhenReady());
    channel.onmessage = (event: MessageEvent) => {
      if (this.closed) return;
      if (!(event.data instanceof ArrayBuffer)) {
        this.log.warn(`${this.identity}: text message on ${channel.label} ignored`);
        return;
      }
      if (channel.label !== RELIABLE_LABEL && channel.label !== LOSSY_LABEL) return;
      if (!this.permission.canPublishData) return;
      let packet;
      try {
        packet = decodeDataPacket(new Uint8Array(event.data));
      } catch (error) {
        this.log.warn(`${this.identity}: malformed data packet on ${channel.label} dropped: ${errorText(error)}`);
        return;
      }
      if (!stampSender(packet, { identity: this.identity, sid: this.sid, hidden: this.hidden, agent: this.kind === ParticipantInfo_Kind.AGENT || this.permission.agent }, channel.label)) return;
      this.room.onData(this, packet, channel.label);
    };
  }

  /** Tells the client to go (server-initiated leave) and closes; the room does the bookkeeping. */
  sendLeave(reason: DisconnectReason, action = LeaveRequest_Action.DISCONNECT): void {
    this.send({ case: 'leave', value: new LeaveRequest({ canReconnect: false, reason, action }) });
  }

  /** Ends the session: peer connections, relays of published tracks, the signal connection. */
  close(reason: DisconnectReason): void {
    if (this.closed) return;
    this.disconnectReason = reason;
    this.state = ParticipantInfo_State.DISCONNECTED;
    this.closed = true;
    for (const track of this.tracks.values()) track.relay.stop();
    this.subscriptions.clear();
    for (const channel of this.dataChannels.values()) {
      try {
        channel.close();
      } catch {
        // already closed by the client
      }
    }
    this.publisher.close();
    this.subscriber.close();
    this.signal.close(1000, DisconnectReason[reason] ?? 'closed');
  }

  /** The server's receiving side of each track this participant publishes (see InboundTrackStats). */
  async inboundStats(): Promise<InboundTrackStats[]> {
    const report = await this.publisher.pc.getStats();
    const byMid = new Map<string, Record<string, unknown>>();
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && typeof s.mid === 'string') byMid.set(s.mid, s);
    });
    const out: InboundTrackStats[] = [];
    for (const { info, transceiver, relay } of this.tracks.values()) {
      const s = transceiver.mid === null ? undefined : byMid.get(transceiver.mid);
      if (!s) continue;
      out.push({
        sid: info.sid,
        name: info.name,
        kind: s.kind === 'video' ? 'video' : 'audio',
        jitterBufferDelay: Number(s.jitterBufferDelay ?? 0),
        jitterBufferEmittedCount: Number(s.jitterBufferEmittedCount ?? 0),
        packetsReceived: Number(s.packetsReceived ?? 0),
        forwardedTrackId: relay.outgoing.id,
      });
    }
    return out;
  }

  snapshot(): ParticipantSnapshot {
    return {
      sid: this.sid,
      identity: this.identity,
      name: this.name,
      metadata: this.metadata,
      attributes: { ...this.attributes },
      kind: this.kind,
      state: this.state,
      version: this.version,
      tracks: [...this.tracks.values()].map(({ info, relay }) => ({
        sid: info.sid,
        name: info.name,
        type: info.type,
        source: info.source,
        muted: info.muted,
        mimeType: info.mimeType,
        audioFeatures: [...info.audioFeatures],
        media: { ...relay.stats, formats: [...relay.stats.formats] },
      })),
      subscribedTo: [...this.subscriptions.keys()],
      dataChannels: [...this.dataChannels.keys()],
    };
  }
}

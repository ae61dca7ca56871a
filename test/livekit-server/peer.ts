/**
 * One server-side WebRTC peer connection (libwebrtc through `@roamhq/wrtc`) with the bookkeeping a
 * LiveKit SFU needs around it:
 * - remote ICE candidates that arrive before the remote description are held, then applied;
 * - server-initiated offers (the subscriber connection) are serialised: while an offer waits for
 *   its answer, further changes only mark the connection dirty and are offered after the answer,
 *   the way the Go server's negotiation state machine does, so the client never sees glare.
 */
import wrtc from '@roamhq/wrtc';
import { SignalTarget } from '@livekit/protocol';
import { z } from 'zod';
import { errorText, type ServerLog } from './log.js';

const { RTCPeerConnection, MediaStream } = wrtc;

/**
 * A MediaStream with a chosen id. Clients read the stream id of a subscribed track from the SDP's
 * msid (`PA_sid|TR_sid` maps it to a participant and publication); wrtc's MediaStream accepts a
 * nonstandard `{ id }` init for exactly this, which the DOM typings do not know about.
 */
export function streamWithId(id: string): MediaStream {
  const stream = new MediaStream({ id } as unknown as MediaStreamTrack[]);
  if (stream.id !== id) throw new Error(`wrtc ignored the stream id (${stream.id} instead of ${id})`);
  return stream;
}

/** The JSON the clients put in TrickleRequest.candidateInit (an RTCIceCandidateInit). */
const candidateInitSchema = z.object({
  candidate: z.string(),
  sdpMid: z.string().nullish(),
  sdpMLineIndex: z.number().int().nullish(),
  usernameFragment: z.string().nullish(),
});

export function parseCandidateInit(json: string): RTCIceCandidateInit {
  const parsed = candidateInitSchema.parse(JSON.parse(json));
  return {
    candidate: parsed.candidate,
    ...(parsed.sdpMid != null ? { sdpMid: parsed.sdpMid } : {}),
    ...(parsed.sdpMLineIndex != null ? { sdpMLineIndex: parsed.sdpMLineIndex } : {}),
    ...(parsed.usernameFragment != null ? { usernameFragment: parsed.usernameFragment } : {}),
  };
}

export interface PeerHooks {
  /** A local candidate to trickle to the client, already in candidateInit JSON form. */
  onLocalCandidate(candidateInit: string): void;
  /** A server-initiated offer to send (subscriber connection only). */
  onOffer?(sdp: string, id: number): void;
  onConnectionState?(state: RTCPeerConnectionState): void;
}

export class Peer {
  readonly pc: RTCPeerConnection;
  private remoteDescriptionSet = false;
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private offerInFlight = false;
  private renegotiate = false;
  private negotiationScheduled = false;
  private offerId = 0;
  private closed = false;

  constructor(
    readonly target: SignalTarget,
    private readonly name: string,
    private readonly hooks: PeerHooks,
    private readonly log: ServerLog,
  ) {
    // No ICE servers: client and server share a host (loopback or LAN), host candidates suffice.
    this.pc = new RTCPeerConnection({ iceServers: [] });
    this.pc.onicecandidate = (event) => {
      if (!event.candidate || this.closed) return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      this.hooks.onLocalCandidate(JSON.stringify({ candidate, sdpMid, sdpMLineIndex }));
    };
    this.pc.onconnectionstatechange = () => {
      if (this.closed) return;
      this.log.debug(`${this.name}: connection ${this.pc.connectionState}`);
      this.hooks.onConnectionState?.(this.pc.connectionState);
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Publisher connection: the client offers, we answer. Returns the answer SDP. */
  async answer(offerSdp: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    await this.onRemoteDescription();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    if (!answer.sdp) throw new Error('libwebrtc produced an answer without SDP');
    return answer.sdp;
  }

  /** Subscriber connection: asks for an offer soon; changes made in the same tick share it. */
  negotiate(): void {
    if (this.closed) return;
    if (this.offerInFlight) {
      this.renegotiate = true;
      return;
    }
    if (this.negotiationScheduled) return;
    this.negotiationScheduled = true;
    setImmediate(() => {
      this.negotiationScheduled = false;
      void this.sendOffer();
    });
  }

  /** The client's answer to our last offer. */
  async acceptAnswer(sdp: string): Promise<void> {
    if (!this.offerInFlight) {
      this.log.warn(`${this.name}: answer without an offer in flight, ignored`);
      return;
    }
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    this.offerInFlight = false;
    await this.onRemoteDescription();
    if (this.renegotiate) {
      this.renegotiate = false;
      this.negotiate();
    }
  }

  async addRemoteCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (!this.remoteDescriptionSet) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.pc.addIceCandidate(candidate);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.pc.close();
    } catch (error) {
      this.log.debug(`${this.name}: close failed: ${errorText(error)}`);
    }
  }

  private async sendOffer(): Promise<void> {
    if (this.closed || this.offerInFlight) return;
    this.offerInFlight = true;
    try {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      if (this.closed) return;
      if (!offer.sdp) throw new Error('libwebrtc produced an offer without SDP');
      this.hooks.onOffer?.(offer.sdp, ++this.offerId);
    } catch (error) {
      this.offerInFlight = false;
      if (!this.closed) this.log.error(`${this.name}: could not create an offer: ${errorText(error)}`);
    }
  }

  private async onRemoteDescription(): Promise<void> {
    this.remoteDescriptionSet = true;
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const candidate of pending) {
      try {
        await this.pc.addIceCandidate(candidate);
      } catch (error) {
        this.log.warn(`${this.name}: held candidate rejected: ${errorText(error)}`);
      }
    }
  }
}

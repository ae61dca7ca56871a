/**
 * The player's WebRTC peer connection to Unreal (libwebrtc through `@roamhq/wrtc`): it answers the
 * streamer's offer, sends our microphone track on the offered audio transceiver (Pixel
 * Streaming's UseMic path), hands out decoded video frames (I420) and the data channel.
 */
import { EventEmitter } from 'node:events';
import wrtc from '@roamhq/wrtc';
import type { Logger } from 'pino';
import type { IceCandidateData } from './signalling-messages.js';

const { RTCPeerConnection } = wrtc;
const { RTCVideoSink } = wrtc.nonstandard;

/** Video codecs libwebrtc in @roamhq/wrtc 0.10 can decode (its build has no H.264). */
export const DECODABLE_VIDEO_CODECS = ['VP8', 'VP9', 'AV1'] as const;

/** A decoded frame as RTCVideoSink gives it: I420, planes back to back. */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface PlayerPeerEvents {
  frame: [frame: I420Frame, receivedAt: number];
  candidate: [IceCandidateData];
  state: [RTCPeerConnectionState];
  dataOpen: [];
  data: [Uint8Array];
}

export interface TransportDelay {
  /** Round trip on the selected candidate pair, ms. */
  rttMs?: number;
  /** Average time a video frame waited in the receive jitter buffer, ms. */
  jitterBufferMs?: number;
}

/** Throws a clear error when the offer's video can only be H.264 (which this engine cannot decode). */
export function checkVideoCodecs(sdp: string): void {
  const video = sdp.split(/\r?\nm=/).find((section) => section.startsWith('m=video') || section.startsWith('video'));
  if (!video) throw new Error('the streamer offered no video; is Pixel Streaming streaming?');
  const codecs = [...video.matchAll(/a=rtpmap:\d+ ([A-Za-z0-9-]+)\//g)].map((m) => m[1]!.toUpperCase());
  if (!codecs.some((c) => (DECODABLE_VIDEO_CODECS as readonly string[]).includes(c))) {
    throw new Error(
      `the streamer offers video only as ${[...new Set(codecs)].filter((c) => !['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'].includes(c)).join(', ') || 'nothing'}, which the worker's WebRTC engine cannot decode; launch Unreal with -PixelStreamingEncoderCodec=VP8 (or VP9/AV1)`,
    );
  }
}

export class PlayerPeer extends EventEmitter<PlayerPeerEvents> {
  readonly pc: RTCPeerConnection;
  private channel: RTCDataChannel | undefined;
  private sinks: { stop(): void }[] = [];
  private remoteSet = false;
  private heldCandidates: RTCIceCandidateInit[] = [];
  private closed = false;

  constructor(
    iceServers: RTCIceServer[],
    private readonly mic: MediaStreamTrack,
    private readonly log: Logger,
  ) {
    super();
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.onicecandidate = (event) => {
      if (!event.candidate || this.closed || !event.candidate.candidate) return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      this.emit('candidate', { candidate, sdpMid, sdpMLineIndex });
    };
    this.pc.onconnectionstatechange = () => {
      if (!this.closed) this.emit('state', this.pc.connectionState);
    };
    this.pc.ontrack = (event) => {
      if (event.track.kind !== 'video' || this.closed) return;
      const sink = new RTCVideoSink(event.track);
      sink.onframe = ({ frame }: { frame: I420Frame }) => {
        if (!this.closed) this.emit('frame', frame, performance.now());
      };
      this.sinks.push(sink);
    };
    this.pc.ondatachannel = (event) => {
      const channel = event.channel;
      channel.binaryType = 'arraybuffer';
      this.channel = channel;
      channel.onopen = () => this.emit('dataOpen');
      channel.onmessage = (msg: MessageEvent) => {
        if (msg.data instanceof ArrayBuffer) this.emit('data', new Uint8Array(msg.data));
      };
      if (channel.readyState === 'open') this.emit('dataOpen');
    };
  }

  /** Answer the streamer's offer, our microphone riding on its audio transceiver. */
  async answer(offerSdp: string): Promise<string> {
    checkVideoCodecs(offerSdp);
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    this.remoteSet = true;
    const audio = this.pc.getTransceivers().find((t) => t.receiver.track?.kind === 'audio');
    if (!audio) {
      throw new Error('the streamer offered no audio, so Unreal cannot hear the agent; do not launch it with -PixelStreamingWebRTCDisableReceiveAudio');
    }
    // addTrack after the offer reuses the offered audio transceiver (JSEP), and the answer then
    // sends on it: Unreal's Pixel Streaming Audio component plays it.
    this.pc.addTrack(this.mic);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    if (!answer.sdp) throw new Error('libwebrtc produced an answer without SDP');
    for (const candidate of this.heldCandidates.splice(0)) await this.addCandidateNow(candidate);
    return answer.sdp;
  }

  async addRemoteCandidate(data: IceCandidateData): Promise<void> {
    const init: RTCIceCandidateInit = {
      candidate: data.candidate,
      sdpMid: data.sdpMid ?? null,
      // Epic's frontend forces index 0 (bundle); do the same when the streamer leaves it out.
      sdpMLineIndex: data.sdpMLineIndex ?? 0,
    };
    if (!this.remoteSet) this.heldCandidates.push(init);
    else await this.addCandidateNow(init);
  }

  get dataOpen(): boolean {
    return this.channel?.readyState === 'open';
  }

  /** Sends one data channel message; false when the channel is not open (the message is dropped). */
  send(bytes: Uint8Array): boolean {
    if (!this.channel || this.channel.readyState !== 'open') return false;
    this.channel.send(bytes as Uint8Array<ArrayBuffer>);
    return true;
  }

  /** What WebRTC stats say about the video path's delay (both fields may be missing early on). */
  async transportDelay(): Promise<TransportDelay> {
    const out: TransportDelay = {};
    const report = await this.pc.getStats();
    report.forEach((value: unknown) => {
      const s = value as Record<string, unknown>;
      if (s.type === 'candidate-pair' && (s.nominated || s.state === 'succeeded') && typeof s.currentRoundTripTime === 'number') {
        out.rttMs = s.currentRoundTripTime * 1000;
      }
      if (s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'video') {
        const delay = s.jitterBufferDelay;
        const count = s.jitterBufferEmittedCount;
        if (typeof delay === 'number' && typeof count === 'number' && count > 0) out.jitterBufferMs = (delay / count) * 1000;
      }
    });
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sink of this.sinks) sink.stop();
    try {
      this.channel?.close();
      this.pc.close();
    } catch (err) {
      this.log.debug({ err }, 'closing the Pixel Streaming peer failed');
    }
  }

  private async addCandidateNow(init: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(init);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'streamer ICE candidate rejected');
    }
  }
}

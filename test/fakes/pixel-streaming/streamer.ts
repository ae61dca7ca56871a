/**
 * A fake Unreal Pixel Streaming streamer: a Node WebRTC peer (@roamhq/wrtc) that speaks the
 * streamer side of the signalling protocol (config, identify → endpointId, playerConnected →
 * offer with a data channel, answer, iceCandidate, playerDisconnected), publishes synthetic video
 * whose frames carry a counter, a timestamp and a "mouth" level (frame-code.ts), and records what
 * players send: microphone audio (with arrival times) and data channel messages.
 *
 * The mouth level is the loudness of the microphone audio it received `lipSyncDelayMs` earlier,
 * the way a lip-synced MetaHuman shows a sound some time after hearing it.
 *
 * Faults: `offer: 'never'` (accepts the player, never offers), `'badIce'` (offers, but no ICE
 * candidates either way: ICE cannot connect), `'h264'` (offers H.264 only); leave() (the
 * streamer disconnects); freezeVideo() (connected, no frames); dropPeers() (the peer connections
 * die without a word on signalling).
 */
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { decodeStringMessage, encodeTrailingString, FROM_STREAMER } from '../../../src/avatar/unreal/data-channel.js';
import { paintCode } from './frame-code.js';

const { RTCPeerConnection } = wrtc;
const { RTCVideoSource, RTCAudioSink } = wrtc.nonstandard;

export type OfferMode = 'normal' | 'never' | 'badIce' | 'h264';

export interface FakeStreamerOptions {
  /** The signalling server's streamer URL. */
  signallingUrl: string;
  id?: string;
  width?: number;
  height?: number;
  fps?: number;
  lipSyncDelayMs?: number;
  offer?: OfferMode;
}

export interface ReceivedAudio {
  /** Mono samples as received (downmixed), at `sampleRate`. */
  samples: Int16Array;
  sampleRate: number;
  /** Date.now() when the chunk arrived. */
  at: number;
  rms: number;
}

export interface ReceivedData {
  playerId: string;
  id: number;
  /** The string field decoded (UIInteraction, Command), when the message has one. */
  text?: string;
  bytes: Uint8Array;
  at: number;
}

interface PlayerPeer {
  pc: RTCPeerConnection;
  channel: RTCDataChannel;
  sinks: { stop(): void }[];
  remoteSet: boolean;
  held: RTCIceCandidateInit[];
}

export class FakeStreamer {
  readonly audio: ReceivedAudio[] = [];
  readonly data: ReceivedData[] = [];
  /** Frames published so far. */
  framesSent = 0;
  offerMode: OfferMode;
  lipSyncDelayMs: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  private ws: WebSocket | undefined;
  private id: string;
  private readonly video = new RTCVideoSource();
  private readonly track: MediaStreamTrack;
  private readonly peers = new Map<string, PlayerPeer>();
  private timer: NodeJS.Timeout | undefined;
  private frozen = false;
  private readonly frame: Uint8Array;
  private confirmed: (() => void) | undefined;

  constructor(private readonly opts: FakeStreamerOptions) {
    this.id = opts.id ?? 'DefaultStreamer';
    this.width = opts.width ?? 640;
    this.height = opts.height ?? 360;
    this.fps = opts.fps ?? 30;
    this.offerMode = opts.offer ?? 'normal';
    this.lipSyncDelayMs = opts.lipSyncDelayMs ?? 0;
    this.track = this.video.createTrack();
    this.frame = new Uint8Array((this.width * this.height * 3) / 2);
    this.frame.fill(128, this.width * this.height);
  }

  /** The id the signalling server confirmed. */
  get streamerId(): string {
    return this.id;
  }

  get playerIds(): string[] {
    return [...this.peers.keys()];
  }

  /** Connects to signalling and identifies; resolves once the server lists it. */
  async start(): Promise<void> {
    const ws = new WebSocket(this.opts.signallingUrl, { perMessageDeflate: false });
    this.ws = ws;
    const confirmed = new Promise<void>((resolve, reject) => {
      this.confirmed = resolve;
      ws.once('error', reject);
    });
    ws.on('message', (data) => void this.onMessage(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('close', () => this.closePeers());
    await confirmed;
    this.startVideo();
  }

  /** The streamer goes away (Unreal quits): signalling socket and peers close. */
  async leave(): Promise<void> {
    this.stopVideo();
    this.closePeers();
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      });
    }
  }

  freezeVideo(frozen = true): void {
    this.frozen = frozen;
  }

  /** Peer connections die; signalling stays up and says nothing (a network cut, a GPU crash). */
  dropPeers(): void {
    this.closePeers();
  }

  async close(): Promise<void> {
    await this.leave();
    this.track.stop();
  }

  /** All microphone audio received, mono, resampled to nothing: the rate libwebrtc decoded at (the last seen). */
  receivedSince(sinceMs = 0): { samples: Int16Array; sampleRate: number; chunks: ReceivedAudio[] } {
    const chunks = this.audio.filter((a) => a.at >= sinceMs);
    const rate = chunks.at(-1)?.sampleRate ?? 48000;
    const same = chunks.filter((c) => c.sampleRate === rate);
    const total = same.reduce((n, c) => n + c.samples.length, 0);
    const samples = new Int16Array(total);
    let at = 0;
    for (const c of same) {
      samples.set(c.samples, at);
      at += c.samples.length;
    }
    return { samples, sampleRate: rate, chunks };
  }

  /** UIInteraction descriptors received, parsed. */
  uiInteractions(): unknown[] {
    return this.data.filter((d) => d.id === 50 && d.text !== undefined).map((d) => JSON.parse(d.text!) as unknown);
  }

  private send(message: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private async onMessage(m: Record<string, unknown>): Promise<void> {
    switch (m.type) {
      case 'identify':
        this.send({ type: 'endpointId', id: this.id, protocolVersion: '1.0.0' });
        break;
      case 'endpointIdConfirm':
        this.id = String(m.committedId);
        this.confirmed?.();
        break;
      case 'ping':
        this.send({ type: 'pong', time: m.time });
        break;
      case 'playerConnected':
        if (this.offerMode !== 'never') await this.offerTo(String(m.playerId));
        break;
      case 'playerDisconnected':
        this.closePeer(String(m.playerId));
        break;
      case 'answer': {
        const peer = this.peers.get(String(m.playerId));
        if (!peer) break;
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: String(m.sdp) });
        peer.remoteSet = true;
        for (const c of peer.held.splice(0)) await peer.pc.addIceCandidate(c).catch(() => undefined);
        break;
      }
      case 'iceCandidate': {
        const peer = this.peers.get(String(m.playerId));
        if (!peer || this.offerMode === 'badIce') break;
        const c = m.candidate as RTCIceCandidateInit;
        if (peer.remoteSet) await peer.pc.addIceCandidate(c).catch(() => undefined);
        else peer.held.push(c);
        break;
      }
    }
  }

  private async offerTo(playerId: string): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const peer: PlayerPeer = { pc, channel: pc.createDataChannel('datachannel', { ordered: true }), sinks: [], remoteSet: false, held: [] };
    this.peers.set(playerId, peer);
    pc.onicecandidate = (event) => {
      if (!event.candidate || this.offerMode === 'badIce') return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      this.send({ type: 'iceCandidate', playerId, candidate: { candidate, sdpMid, sdpMLineIndex } });
    };
    // As Unreal: video out, audio both ways (the player's microphone comes in on it).
    pc.addTransceiver(this.track, { direction: 'sendonly' });
    pc.addTransceiver('audio', { direction: 'sendrecv' });
    pc.ontrack = (event) => {
      if (event.track.kind !== 'audio') return;
      const sink = new RTCAudioSink(event.track);
      sink.ondata = (d: { samples: Int16Array; sampleRate: number; channelCount: number }) => this.onAudio(d);
      peer.sinks.push(sink);
    };
    const channel = peer.channel;
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => {
      // As Unreal does on open: its message table (id 255), then its settings (id 7).
      channel.send(encodeTrailingString(FROM_STREAMER.Protocol, JSON.stringify({ Direction: 0, UIInteraction: { id: 50, structure: [] }, Command: { id: 51, structure: [] } })) as Uint8Array<ArrayBuffer>);
      channel.send(encodeTrailingString(FROM_STREAMER.InitialSettings, JSON.stringify({ PixelStreaming: { AllowPixelStreamingCommands: false } })) as Uint8Array<ArrayBuffer>);
    };
    channel.onmessage = (event: MessageEvent) => {
      if (!(event.data instanceof ArrayBuffer)) return;
      const bytes = new Uint8Array(event.data);
      let text: string | undefined;
      if (bytes[0] === 50 || bytes[0] === 51) {
        try {
          text = decodeStringMessage(bytes).text;
        } catch {
          text = undefined;
        }
      }
      this.data.push({ playerId, id: bytes[0]!, text, bytes, at: Date.now() });
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let sdp = offer.sdp ?? '';
    if (this.offerMode === 'h264') sdp = sdp.replace(/a=rtpmap:(\d+) (VP8|VP9|AV1)\/90000/g, 'a=rtpmap:$1 H264/90000');
    this.send({ type: 'offer', playerId, sdp });
  }

  private onAudio(d: { samples: Int16Array; sampleRate: number; channelCount: number }): void {
    const ch = d.channelCount || 1;
    const mono = new Int16Array(d.samples.length / ch);
    let sum = 0;
    for (let i = 0; i < mono.length; i++) {
      let v = 0;
      for (let c = 0; c < ch; c++) v += d.samples[i * ch + c]!;
      mono[i] = Math.round(v / ch);
      sum += mono[i]! * mono[i]!;
    }
    this.audio.push({ samples: mono, sampleRate: d.sampleRate, at: Date.now(), rms: Math.sqrt(sum / Math.max(1, mono.length)) });
    if (this.audio.length > 100 * 120) this.audio.splice(0, 100 * 30);
  }

  /** The mouth: loudness of what was heard `lipSyncDelayMs` ago, over 40 ms, as 0..255. */
  private level(now: number): number {
    const to = now - this.lipSyncDelayMs;
    const from = to - 40;
    let sum = 0;
    let n = 0;
    for (let i = this.audio.length - 1; i >= 0; i--) {
      const a = this.audio[i]!;
      if (a.at < from) break;
      if (a.at > to) continue;
      sum += a.rms * a.rms;
      n++;
    }
    return n ? Math.min(255, Math.round(Math.sqrt(sum / n) / 32)) : 0;
  }

  private startVideo(): void {
    const started = performance.now();
    const tick = () => {
      const due = started + ((this.framesSent + 1) * 1000) / this.fps;
      this.timer = setTimeout(tick, Math.max(0, due - performance.now()));
      if (!this.frozen) this.publishFrame();
      else this.framesSent++;
    };
    this.timer = setTimeout(tick, 0);
  }

  private stopVideo(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private publishFrame(): void {
    const { width, height } = this;
    const y = this.frame.subarray(0, width * height);
    y.fill(90);
    // Something moving, so the encoder has motion to code like a real scene.
    const bar = Math.floor((this.framesSent * 8) % width);
    for (let row = Math.floor(height / 2); row < height; row++) y.fill(200, row * width + bar, row * width + Math.min(width, bar + 24));
    const now = Date.now();
    paintCode(y, width, { counter: this.framesSent & 0xffff, timeMs: now, level: this.level(now) });
    this.video.onFrame({ width, height, data: this.frame });
    this.framesSent++;
  }

  private closePeer(playerId: string): void {
    const peer = this.peers.get(playerId);
    if (!peer) return;
    this.peers.delete(playerId);
    for (const s of peer.sinks) s.stop();
    try {
      peer.pc.close();
    } catch {
      // already closed
    }
  }

  private closePeers(): void {
    for (const id of [...this.peers.keys()]) this.closePeer(id);
  }
}

/**
 * Media forwarding. A real SFU forwards RTP packets; libwebrtc through `@roamhq/wrtc` only exposes
 * decoded media, so each published track is decoded once (RTCAudioSink / RTCVideoSink on the
 * publisher connection) and fed into one local source (RTCAudioSource / RTCVideoSource) whose
 * track is added to every subscriber connection, each of which encodes it again. Costs: a decode
 * plus one encode per subscriber; audio arrives at whatever rate libwebrtc's playout mixer delivers
 * (wrtc 0.10.0 starts at 16 kHz and settles on 48 kHz mono after a few frames) and is re-encoded
 * from that. There are no keyframe requests to forward: every new subscriber's encoder starts with
 * a keyframe of its own, which is what a keyframe request would have achieved.
 */
import wrtc from '@roamhq/wrtc';

const { RTCAudioSink, RTCAudioSource, RTCVideoSink, RTCVideoSource } = wrtc.nonstandard;

/** What RTCAudioSink delivers per 10 ms (the nonstandard API has no published event type). */
interface AudioSinkData {
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample: number;
  channelCount: number;
  numberOfFrames: number;
}

interface VideoSinkEvent {
  frame: { width: number; height: number; data: Uint8Array };
}

export interface RelayStats {
  /** Decoded frames received from the publisher (10 ms audio chunks or video frames). */
  framesIn: number;
  /** Time of the last frame, ms since epoch; 0 before the first. */
  lastFrameAt: number;
  /** Audio: the rate libwebrtc decodes to; video: the last frame size. */
  format: string;
  /** Every format seen, in order of first appearance (libwebrtc may start at one rate and settle on another). */
  formats: string[];
}

export class MediaRelay {
  /** The track subscribers get; one per published track, shared by all subscriber connections. */
  readonly outgoing: MediaStreamTrack;
  readonly stats: RelayStats = { framesIn: 0, lastFrameAt: 0, format: '', formats: [] };
  private readonly stopSink: () => void;
  private stopped = false;

  constructor(incoming: MediaStreamTrack) {
    if (incoming.kind === 'audio') {
      const source = new RTCAudioSource();
      const sink = new RTCAudioSink(incoming);
      sink.ondata = (data: AudioSinkData) => {
        if (this.stopped) return;
        this.count(`${data.sampleRate} Hz x${data.channelCount}`);
        source.onData({
          samples: data.samples,
          sampleRate: data.sampleRate,
          bitsPerSample: data.bitsPerSample,
          channelCount: data.channelCount,
          numberOfFrames: data.numberOfFrames,
        });
      };
      this.outgoing = source.createTrack();
      this.stopSink = () => sink.stop();
    } else {
      const source = new RTCVideoSource();
      const sink = new RTCVideoSink(incoming);
      sink.onframe = ({ frame }: VideoSinkEvent) => {
        if (this.stopped) return;
        this.count(`${frame.width}x${frame.height}`);
        source.onFrame(frame);
      };
      this.outgoing = source.createTrack();
      this.stopSink = () => sink.stop();
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopSink();
    this.outgoing.stop();
  }

  private count(format: string): void {
    if (format !== this.stats.format && !this.stats.formats.includes(format)) this.stats.formats.push(format);
    this.stats.framesIn++;
    this.stats.lastFrameAt = Date.now();
    this.stats.format = format;
  }
}

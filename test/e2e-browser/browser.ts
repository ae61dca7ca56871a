/**
 * Headless Chromium (Debian's package, driven by playwright-core: no browser download) with a fake
 * microphone that plays a WAV file, plus probes run inside the page: the avatar video's pixels and
 * the page's WebRTC statistics.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `no Chromium at ${CHROMIUM_PATH}: apt-get install chromium (Debian; .ci/run does it), or set CHROMIUM_PATH`;
}

/** WebGL on the CPU (SwiftShader): headless Chromium in a container has no GPU. */
export const WEBGL_ARGS = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The page's console and errors, `[type] text`, oldest first. */
  console: string[];
  close(): Promise<void>;
}

/**
 * `microphoneWav`: 16-bit PCM WAV the fake microphone plays once (`%noloop`), then silence.
 * Flags: those that keep Chromium quiet and offline in a container, the fake media devices, and
 * autoplay allowed so the avatar's audio element plays without a prompt. `opts.args` adds flags
 * (WEBGL_ARGS: WebGL through SwiftShader, for the page's 3D avatars).
 */
export async function launchBrowser(microphoneWav: string, opts: { args?: string[] } = {}): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${microphoneWav}%noloop`,
      ...(opts.args ?? []),
    ],
  });
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  const lines: string[] = [];
  page.on('console', (msg) => lines.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (error) => lines.push(`[pageerror] ${error.message}`));
  // Every RTCPeerConnection the page makes, for the stats probe (the page keeps its Room private).
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const all: RTCPeerConnection[] = [];
    (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections = all;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        all.push(this);
      }
    } as typeof RTCPeerConnection;
  });
  return {
    browser,
    context,
    page,
    console: lines,
    async close() {
      await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    },
  };
}

export interface VideoSample {
  width: number;
  height: number;
  readyState: number;
  currentTime: number;
  /** Mean luma 0..255 of the frame. */
  mean: number;
  /** A 32×32 luma thumbnail of the frame. */
  thumb: number[];
}

/** The frame the avatar's <video> shows now, drawn to a canvas; undefined while it has none. */
export async function sampleVideo(page: Page, selector: string): Promise<VideoSample | undefined> {
  return page.evaluate((sel) => {
    const video = document.querySelector<HTMLVideoElement>(sel);
    if (!video || video.videoWidth === 0 || video.readyState < 2) return undefined;
    const size = 32;
    const canvas = document.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(video, 0, 0, size, size);
    const { data } = ctx.getImageData(0, 0, size, size);
    const thumb: number[] = [];
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) {
      const y = Math.round(0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!);
      thumb.push(y);
      sum += y;
    }
    return { width: video.videoWidth, height: video.videoHeight, readyState: video.readyState, currentTime: video.currentTime, mean: sum / thumb.length, thumb };
  }, selector);
}

/** Mean absolute luma difference of two thumbnails (0: identical). */
export function frameDifference(a: VideoSample, b: VideoSample): number {
  let sum = 0;
  for (let i = 0; i < a.thumb.length; i++) sum += Math.abs(a.thumb[i]! - (b.thumb[i] ?? 0));
  return sum / a.thumb.length;
}

/** Standard deviation of a thumbnail's luma: near 0 for a black or flat frame. */
export function frameSpread(sample: VideoSample): number {
  let sq = 0;
  for (const y of sample.thumb) sq += (y - sample.mean) ** 2;
  return Math.sqrt(sq / sample.thumb.length);
}

/** Connection states and inbound/outbound RTP counters of the page's peer connections. */
export async function peerConnectionStats(page: Page): Promise<unknown> {
  return page
    .evaluate(async () => {
      const pcs = (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? [];
      return Promise.all(
        pcs.map(async (pc, index) => {
          const rtp: Record<string, unknown>[] = [];
          const stats = await pc.getStats();
          stats.forEach((s: Record<string, unknown>) => {
            if (s.type === 'media-source' && s.kind === 'audio') rtp.push({ type: s.type, audioLevel: s.audioLevel, totalAudioEnergy: s.totalAudioEnergy, totalSamplesDuration: s.totalSamplesDuration });
            if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
              rtp.push({
                type: s.type,
                kind: s.kind,
                packets: s.packetsReceived ?? s.packetsSent,
                bytes: s.bytesReceived ?? s.bytesSent,
                framesDecoded: s.framesDecoded,
                framesReceived: s.framesReceived,
                frameWidth: s.frameWidth,
                frameHeight: s.frameHeight,
                framesPerSecond: s.framesPerSecond,
                totalSamplesReceived: s.totalSamplesReceived,
                codec: s.codecId,
              });
            }
          });
          return { index, connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState, signalingState: pc.signalingState, rtp };
        }),
      );
    })
    .catch((error: unknown) => `stats unavailable: ${String(error)}`);
}

export interface AudioTotals {
  /** Seconds of microphone audio the page's senders have taken from the capture (media-source). */
  capturedS: number;
  /** Seconds and energy (sum of squared levels × duration) of the audio the page received to play (inbound-rtp). */
  receivedS: number;
  receivedEnergy: number;
}

/** The page's audio so far, summed over its peer connections. */
export async function audioTotals(page: Page): Promise<AudioTotals> {
  return page.evaluate(async () => {
    const totals = { capturedS: 0, receivedS: 0, receivedEnergy: 0 };
    const pcs = (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? [];
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type === 'media-source' && s.kind === 'audio') totals.capturedS += Number(s.totalSamplesDuration ?? 0);
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          totals.receivedS += Number(s.totalSamplesDuration ?? 0);
          totals.receivedEnergy += Number(s.totalAudioEnergy ?? 0);
        }
      });
    }
    return totals;
  });
}

/** Polls the page's audio totals (every 100 ms, bounded) until `done` holds; returns them. */
export async function waitForAudio(page: Page, done: (totals: AudioTotals) => boolean, ms: number, what: string): Promise<AudioTotals> {
  const deadline = Date.now() + ms;
  for (;;) {
    const totals = await audioTotals(page);
    if (done(totals)) return totals;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(totals)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

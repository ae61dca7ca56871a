/**
 * Per viewer, client-drawn avatars against the server-rendered builtin face, in headless Chromium
 * (our page, built fresh; WebGL through SwiftShader) on the LiveKit-protocol test server: an agent
 * in this process attaches each profile and speaks espeak-ng speech; over the speech the page's
 * received bitrate per kind (getStats inbound-rtp bytes) and how it draws: for a client avatar the
 * page's own figures (the avatar canvas's data-fps / data-draw-ms / data-draw-max-ms, written once a
 * second by ClientAvatar), for the server video the decoded frame rate (inbound-rtp framesDecoded over the speech).
 *
 * Run: npx tsx bench/client-avatar.ts [seconds of speech, default 12] [profile…]
 * (profiles: builtin face2d gltf splat). Figures printed, never asserted.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose } from '@livekit/rtc-node';
import type { Page } from 'playwright-core';
import { attachAvatar } from '../src/avatar/registry.js';
import { encodeWav } from '../src/audio/wav.js';
import { createLogger } from '../src/logging.js';
import { loadWebConfig } from '../src/web/config.js';
import { createWebServer } from '../src/web/server.js';
import { arkitHeadGlb } from '../test/e2e-browser/arkit-glb.js';
import { buildPage } from '../test/e2e-browser/build-page.js';
import { chromiumMissing, launchBrowser, WEBGL_ARGS } from '../test/e2e-browser/browser.js';
import { lamHeadZip } from '../test/e2e-browser/lam-head.js';
import { startPageCall } from '../test/e2e-browser/stack.js';
import { speechWithSilence } from '../test/fakes/speech.js';
import { waitFor } from '../test/fakes/wait.js';
import { startTestLiveKitServer } from '../test/livekit-server/index.js';
import { connectClient } from '../test/livekit-server/testing.js';

const RATE = 24_000;
const PROFILES: Record<string, object> = {
  builtin: { adapter: 'builtin' },
  face2d: { adapter: 'client', renderer: 'face2d', announceTimeoutMs: 15_000, fallback: [] },
  gltf: { adapter: 'client', renderer: 'gltf', asset: '/models/head.glb', announceTimeoutMs: 15_000, fallback: [] },
  splat: { adapter: 'client', renderer: 'splat', asset: '/models/lam-head.zip', announceTimeoutMs: 15_000, fallback: [] },
};
const SENTENCES = [
  'Hello! Thanks for calling. How can I help you today?',
  'The quick brown fox jumps over the lazy dog, while the weather stays nice and sunny.',
  'Could you tell me a little more about what happened, and when it started?',
];

export interface ClientAvatarFigures {
  profile: string;
  /** Received over the speech, kbit/s. */
  audioKbps: number;
  videoKbps: number;
  /** Frames per second the viewer sees: the page's draws (client) or decoded video frames (server). */
  fps: number;
  /** Client avatars: mean main-thread time of one draw, median over the seconds of speech; its worst. */
  drawMs?: number;
  drawMaxMs?: number;
}

async function speech(seconds: number): Promise<Int16Array> {
  const parts: Int16Array[] = [];
  let have = 0;
  for (let i = 0; have < seconds * RATE; i++) {
    const s = await speechWithSilence(SENTENCES[i % SENTENCES.length]!, { sampleRate: RATE, leadMs: 100, trailMs: 250 });
    parts.push(s.samples);
    have += s.samples.length;
  }
  const out = new Int16Array(seconds * RATE);
  let at = 0;
  for (const p of parts) {
    out.set(p.subarray(0, out.length - at), at);
    at += p.length;
    if (at >= out.length) break;
  }
  return out;
}

/** Bytes received so far by kind, over the page's peer connections (launchBrowser records them). */
async function receivedBytes(page: Page): Promise<{ audio: number; video: number; videoFps: number; framesDecoded: number }> {
  return page.evaluate(async () => {
    const out = { audio: 0, video: 0, videoFps: 0, framesDecoded: 0 };
    for (const pc of (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'audio') out.audio += Number(s.bytesReceived ?? 0);
        if (s.kind === 'video') {
          out.video += Number(s.bytesReceived ?? 0);
          out.videoFps = Math.max(out.videoFps, Number(s.framesPerSecond ?? 0));
          out.framesDecoded += Number(s.framesDecoded ?? 0);
        }
      });
    }
    return out;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function benchClientAvatar(opts: { seconds?: number; profiles?: string[] } = {}): Promise<ClientAvatarFigures[]> {
  const seconds = opts.seconds ?? 12;
  const profiles = opts.profiles ?? Object.keys(PROFILES);
  const missing = chromiumMissing();
  if (missing) {
    console.log(`## client avatars per viewer: skipped (${missing})`);
    return [];
  }
  initializeLogger({ pretty: false, level: 'error' });
  const logger = createLogger({ level: 'error' });
  const scratch = mkdtempSync(join(tmpdir(), 'bench-client-avatar-'));
  const pageDir = join(scratch, 'web');
  const avatarsDir = join(scratch, 'avatars');
  const silence = join(scratch, 'silence.wav');
  writeFileSync(silence, encodeWav({ sampleRate: 48_000, channels: 1, samples: new Int16Array(48_000) }));
  for (const [name, json] of Object.entries(PROFILES)) {
    mkdirSync(join(avatarsDir, name), { recursive: true });
    writeFileSync(join(avatarsDir, name, 'avatar.json'), JSON.stringify(json));
  }
  const server = await startTestLiveKitServer({ departureTimeoutS: 1, log: false });
  await buildPage(pageDir);
  mkdirSync(join(pageDir, 'models'), { recursive: true });
  writeFileSync(join(pageDir, 'models', 'head.glb'), arkitHeadGlb());
  writeFileSync(join(pageDir, 'models', 'lam-head.zip'), lamHeadZip('lam-head'));
  const web = await createWebServer(
    loadWebConfig({ LIVEKIT_URL: server.url, LIVEKIT_API_KEY: server.apiKey, LIVEKIT_API_SECRET: server.apiSecret, WEB_RATE_LIMIT_PER_MINUTE: '100' }),
    { staticDir: pageDir },
  );
  const pageUrl = `${await web.listen({ host: '127.0.0.1', port: 0 })}/`;
  const browser = await launchBrowser(silence, { args: WEBGL_ARGS });
  const voiceSamples = await speech(seconds);
  const results: ClientAvatarFigures[] = [];
  try {
    for (const [i, profile] of profiles.entries()) {
      const page = browser.page;
      const roomName = await startPageCall(page, pageUrl, server, 30_000);
      const agent = (await connectClient(server, { identity: `agent-${i}`, room: roomName, kind: 'agent' })).room;
      await agent.localParticipant!.setAttributes({ 'lk.agent.state': 'listening' });
      const session = new voice.AgentSession({});
      const avatar = await attachAvatar({ session, room: agent, logger }, avatarsDir, profile);
      try {
        const client = profile !== 'builtin';
        if (client) await page.locator('[data-testid="avatar-canvas"][data-state="drawing"]').waitFor({ state: 'attached', timeout: 90_000 });
        else {
          // The video decoding, at a rate (the first seconds of a call ramp its bandwidth up).
          const deadline = performance.now() + 60_000;
          while ((await receivedBytes(page)).framesDecoded < 25 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 500));
        }
        await new Promise((r) => setTimeout(r, 3000)); // settle: first frames, stats
        const start = await receivedBytes(page);
        const t0 = performance.now();
        const canvasSamples: { fps: number; drawMs: number; drawMaxMs: number }[] = [];
        let stop = false;
        const sampler = (async () => {
          while (!stop) {
            await new Promise((r) => setTimeout(r, 1000));
            if (client) {
              const d = await page.locator('[data-testid="avatar-canvas"]').evaluate((c) => ({ ...(c as HTMLElement).dataset }));
              if (d.fps) canvasSamples.push({ fps: Number(d.fps), drawMs: Number(d.drawMs), drawMaxMs: Number(d.drawMaxMs) });
            }
          }
        })();
        const out = session.output.audio!;
        const n = RATE / 50;
        for (let k = 0; k + n <= voiceSamples.length; k += n) await out.captureFrame(new AudioFrame(voiceSamples.slice(k, k + n), RATE, 1, n));
        out.flush();
        // captureFrame returns as the output takes the audio, paced to real time by its sink: wait out the speech.
        const spokenMs = (voiceSamples.length * 1000) / RATE;
        const left = spokenMs - (performance.now() - t0);
        if (left > 0) await new Promise((r) => setTimeout(r, left));
        const end = await receivedBytes(page);
        const dt = (performance.now() - t0) / 1000;
        stop = true;
        await sampler;
        const r: ClientAvatarFigures = {
          profile: avatar.handle.profile.name === profile ? profile : `${profile}→${avatar.handle.profile.name}`,
          audioKbps: ((end.audio - start.audio) * 8) / dt / 1000,
          videoKbps: ((end.video - start.video) * 8) / dt / 1000,
          fps: client ? median(canvasSamples.map((s) => s.fps)) : (end.framesDecoded - start.framesDecoded) / dt,
          ...(client ? { drawMs: median(canvasSamples.map((s) => s.drawMs)), drawMaxMs: Math.max(...canvasSamples.map((s) => s.drawMaxMs)) } : {}),
        };
        results.push(r);
        console.log(`  ${JSON.stringify(r)}`);
      } finally {
        await avatar.close().catch(() => undefined);
        await agent.disconnect().catch(() => undefined);
      }
    }
  } finally {
    await browser.close();
    await web.close();
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  console.log(`## client avatars per viewer (${seconds} s of speech each; headless Chromium, WebGL through SwiftShader; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)})`);
  console.log('| avatar | audio kbit/s | video kbit/s | fps at the viewer | draw ms (median of per-second means) | worst draw ms |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.profile} | ${r.audioKbps.toFixed(0)} | ${r.videoKbps.toFixed(0)} | ${r.fps.toFixed(1)} | ${r.drawMs?.toFixed(2) ?? '—'} | ${r.drawMaxMs?.toFixed(1) ?? '—'} |`);
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [seconds, ...profiles] = process.argv.slice(2);
  console.log(`# client avatar bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${loadavg()[0]!.toFixed(1)} at start`);
  await benchClientAvatar({ seconds: seconds ? Number(seconds) : undefined, profiles: profiles.length ? profiles : undefined });
  await dispose();
  process.exit(0);
}

/**
 * The Unreal bridge into a real room: the fake streamer's counter-coded frames go through Pixel
 * Streaming (VP8), the bridge, the room sink (avatar_video + avatar_audio published by the agent)
 * and the LiveKit-protocol test server to a viewer, who reads the counters back: in order, fresh,
 * and with the voice published beside them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, dispose, TrackKind, TrackSource, VideoBufferType, VideoStream, type RemoteTrack, type Room } from '@livekit/rtc-node';
import { unrealAdapter } from '../src/avatar/unreal/adapter.js';
import type { AvatarHandle } from '../src/avatar/contract.js';
import { createLogger } from '../src/logging.js';
import { readCodeFromRgba, unwrapTime } from './fakes/pixel-streaming/frame-code.js';
import { startRig, type Rig } from './fakes/pixel-streaming/rig.js';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, nextEvent, RoomEvent, waitUntil } from './livekit-server/testing.js';

let server: TestLiveKitServer;
let rig: Rig;
let agent: Room;
let viewer: Room;
let handle: AvatarHandle | undefined;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = await startTestLiveKitServer();
  rig = await startRig();
  agent = (await connectClient(server, { identity: 'agent-ue', room: 'unreal-call', kind: 'agent' })).room;
  viewer = (await connectClient(server, { identity: 'viewer-ue', room: 'unreal-call' })).room;
});

afterAll(async () => {
  await handle?.close();
  await viewer?.disconnect();
  await agent?.disconnect();
  await rig?.close();
  await server?.close();
  await dispose();
});

describe('the unreal adapter in a room', () => {
  it("publishes Unreal's frames as the agent's avatar_video: the viewer reads them back in order and fresh", async () => {
    const session = new voice.AgentSession({});
    const videoSubscribed = nextEvent(viewer, RoomEvent.TrackSubscribed, 20_000, 'the avatar video at the viewer', (track: RemoteTrack) => track.kind === TrackKind.KIND_VIDEO);
    handle = await unrealAdapter(rig.profile).attach({ session, room: agent, logger: createLogger({ level: 'error' }) });
    const [track] = (await videoSubscribed) as unknown as [RemoteTrack];
    const agentTracks = [...(viewer.remoteParticipants.get('agent-ue')?.trackPublications.values() ?? [])];
    expect(agentTracks.map((t) => t.source).sort()).toEqual([TrackSource.SOURCE_CAMERA, TrackSource.SOURCE_MICROPHONE].sort());

    // The voice goes out beside the picture while the viewer watches.
    const output = session.output.audio!;
    const rate = output.sampleRate ?? 24_000;
    const speaking = (async () => {
      for (let k = 0, t = 0; t < 1000; t += 20) {
        const data = new Int16Array(rate / 50);
        for (let i = 0; i < data.length; i++, k++) data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * k) / rate));
        await output.captureFrame(new AudioFrame(data, rate, 1, data.length));
      }
      output.flush();
      return output.waitForPlayout();
    })();

    const codes: { counter: number; delayMs: number }[] = [];
    let frames = 0;
    const reader = new VideoStream(track).getReader();
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      frames++;
      const rgba = value.frame.convert(VideoBufferType.RGBA);
      const code = readCodeFromRgba({ width: rgba.width, height: rgba.height, data: rgba.data });
      const at = Date.now();
      if (code) codes.push({ counter: code.counter, delayMs: at - unwrapTime(code.timeMs, at) });
    }
    reader.releaseLock();
    const finished = await speaking;
    expect(finished.interrupted).toBe(false);

    // Most frames survive two VP8 encodes (Unreal → bridge, agent → viewer) readable; those read are in order.
    expect(frames).toBeGreaterThan(40);
    expect(codes.length).toBeGreaterThan(frames * 0.5);
    for (let i = 1; i < codes.length; i++) expect(codes[i]!.counter).toBeGreaterThanOrEqual(codes[i - 1]!.counter);
    // Streamer's capture → viewer: Pixel Streaming, the bridge's voice hold-back, the room (the
    // test server re-encodes). Bounded: frames are not piling up anywhere.
    const delays = codes.map((c) => c.delayMs).sort((a, b) => a - b);
    const p50 = delays[Math.floor(delays.length / 2)]!;
    // eslint-disable-next-line no-console
    console.log(`unreal → room → viewer: ${codes.length}/${frames} frames read, delay p50 ${p50} ms, p90 ${delays[Math.floor(delays.length * 0.9)]} ms`);
    expect(p50).toBeLessThan(1_500);
    // And the speech reached Unreal as the player's microphone.
    const heardMs = () => rig.streamer.audio.filter((a) => a.rms > 1000).reduce((ms, a) => ms + (a.samples.length / a.sampleRate) * 1000, 0);
    await waitUntil(() => heardMs() > 500, 5_000, 'the speech to reach Unreal');
  }, 60_000);
});

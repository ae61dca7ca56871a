/**
 * Contract tests for the LiveKit-protocol test server (test/livekit-server/) with real clients:
 * `@livekit/rtc-node` rooms in this process, livekit-server-sdk's service clients, and raw
 * WebSockets for what no client sends (malformed input, the worker protocol). Each test is named
 * after the behaviour or message it pins down, so a regression names the broken part.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  JobStatus,
  JobType,
  ParticipantInfo_Kind,
  RoomAgentDispatch,
  RoomConfiguration,
  ServerMessage,
  SignalRequest,
  SignalResponse,
  WorkerMessage,
} from '@livekit/protocol';
import { AccessToken, AgentDispatchClient, RoomServiceClient, TwirpError } from 'livekit-server-sdk';
import {
  AudioStream,
  ConnectError,
  DisconnectReason,
  dispose,
  Room,
  RpcError,
  TrackKind,
  VideoStream,
  type RemoteTrack,
} from '@livekit/rtc-node';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import {
  connectClient,
  CyclingVideo,
  meanBrightness,
  nextEvent,
  PacedAudio,
  rms,
  RoomEvent,
  setLocalTrackMuted,
  sleep,
  waitUntil,
  withTimeout,
  type ConnectedClient,
} from './livekit-server/testing.js';

let server: TestLiveKitServer;
/** Measurements printed at the end, for the report. */
const measured: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestLiveKitServer({ departureTimeoutS: 1 });
});

afterAll(async () => {
  await server?.close();
  await dispose();
  // eslint-disable-next-line no-console
  console.log(`livekit test server measurements: ${JSON.stringify(measured, null, 2)}`);
});

describe('signal: join and auth', () => {
  it('JoinResponse: rtc-node Room.connect joins, gets RM_/PA_ sids, and appears in the room', async () => {
    const alice = await connectClient(server, { identity: 'join-alice', room: 'join' });
    try {
      measured.firstJoinMs = alice.joinMs.toFixed(0); // includes rtc-node's FFI start-up
      expect(alice.joinMs).toBeLessThan(5_000);
      expect(await alice.room.getSid()).toMatch(/^RM_/);
      expect(alice.room.localParticipant?.sid).toMatch(/^PA_/);
      expect(alice.room.localParticipant?.identity).toBe('join-alice');
      const snapshot = server.room('join');
      expect(snapshot?.participants.map((p) => p.identity)).toEqual(['join-alice']);
      // The client opened its data channels on the publisher connection.
      await waitUntil(() => (server.room('join')?.participants[0]?.dataChannels.length ?? 0) >= 2, 5_000, 'data channels');
      expect(server.room('join')?.participants[0]?.dataChannels).toEqual(expect.arrayContaining(['_reliable', '_lossy']));
    } finally {
      await alice.room.disconnect();
    }
  });

  it('auth: a token signed with the wrong secret is refused with 401 (connect and /rtc/validate)', async () => {
    const forged = new AccessToken(server.apiKey, 'not-the-secret', { identity: 'mallory' });
    forged.addGrant({ roomJoin: true, room: 'join' });
    const jwt = await forged.toJwt();
    const validate = await fetch(`${server.httpUrl}/rtc/validate?access_token=${jwt}`);
    expect(validate.status).toBe(401);
    const upgrade = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${server.url}/rtc?access_token=${jwt}`);
      ws.on('unexpected-response', (_, response) => resolve(response.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(upgrade).toBe(401);
    const room = new Room();
    await expect(withTimeout(room.connect(server.url, jwt), 10_000, 'connect to fail')).rejects.toBeInstanceOf(ConnectError);
    expect(server.room('join')?.participants.some((p) => p.identity === 'mallory') ?? false).toBe(false);
  });

  it('signal paths: /rtc/v1 and /rtc/v1/validate answer 404 with CORS so clients fall back to /rtc', async () => {
    for (const path of ['/rtc/v1', '/rtc/v1/validate']) {
      const response = await fetch(`${server.httpUrl}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('access-control-allow-origin'), path).toBe('*');
    }
  });
});

describe('signal: raw protocol view', () => {
  it('JoinResponse fields and ParticipantUpdate versions (join, attributes, publish, leave) as a raw client sees them', async () => {
    const actor = await connectClient(server, { identity: 'actor', room: 'raw' });
    const ws = new WebSocket(`${server.url}/rtc?protocol=16&auto_subscribe=0`, { headers: { authorization: `Bearer ${await server.token({ identity: 'observer', room: 'raw' })}` } });
    const responses: SignalResponse[] = [];
    ws.on('message', (data) => responses.push(SignalResponse.fromBinary(data as Buffer)));
    try {
      await waitUntil(() => responses.length > 0, 5_000, 'JoinResponse');
      const join = responses[0]!.message;
      if (join.case !== 'join') throw new Error(`first message was ${join.case}`);
      expect(join.value).toMatchObject({ serverVersion: '1.9.0', subscriberPrimary: false, pingInterval: 5, pingTimeout: 15 });
      expect(join.value.serverInfo?.version).toBe('1.9.0');
      expect(join.value.room?.sid).toMatch(/^RM_/);
      expect(join.value.participant?.sid).toMatch(/^PA_/);
      expect(join.value.otherParticipants.map((p) => p.identity)).toEqual(['actor']);

      const actorVersions = () =>
        responses.flatMap((r) => (r.message.case === 'update' ? r.message.value.participants : [])).filter((p) => p.identity === 'actor');
      await actor.room.localParticipant!.setAttributes({ step: 'one' });
      const audio = new PacedAudio();
      await audio.publish(actor.room);
      await waitUntil(() => actorVersions().some((p) => p.tracks.length === 1), 5_000, 'update with the published track');
      await actor.room.disconnect();
      await audio.stop();
      await waitUntil(() => actorVersions().some((p) => p.state === 3 /* DISCONNECTED */), 5_000, 'update with DISCONNECTED');

      const seen = actorVersions();
      const versions = seen.map((p) => p.version);
      expect(versions, 'versions strictly increase').toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
      expect(seen.find((p) => p.attributes.step === 'one'), 'attributes update').toBeDefined();
      expect(seen.at(-1)?.disconnectReason).toBe(1 /* CLIENT_INITIATED */);
      expect(seen.find((p) => p.tracks.length === 1)?.tracks[0]).toMatchObject({ sid: expect.stringMatching(/^TR_/), mimeType: expect.stringMatching(/^audio\/opus$/i) });
    } finally {
      ws.close();
      await actor.room.disconnect();
    }
  });
});

describe('two participants in a room', () => {
  let alice: ConnectedClient;
  let bob: ConnectedClient;
  const roomName = 'pair';

  beforeAll(async () => {
    alice = await connectClient(server, { identity: 'alice', room: roomName });
    const bobSeen = nextEvent(alice.room, RoomEvent.ParticipantConnected, 5_000, 'alice sees bob', (p) => p.identity === 'bob');
    bob = await connectClient(server, { identity: 'bob', room: roomName, attributes: { role: 'listener' } });
    measured.joinIntoOccupiedRoomMs = bob.joinMs.toFixed(0);
    await bobSeen;
  });

  afterAll(async () => {
    await alice?.room.disconnect();
    await bob?.room.disconnect();
  });

  it('ParticipantUpdate: each sees the other (join response lists alice, update announces bob with attributes)', () => {
    expect([...bob.room.remoteParticipants.values()].map((p) => p.identity)).toEqual(['alice']);
    const bobAtAlice = alice.room.remoteParticipants.get('bob');
    expect(bobAtAlice?.sid).toMatch(/^PA_/);
    expect(bobAtAlice?.attributes).toEqual({ role: 'listener' });
  });

  it('UpdateParticipantMetadata: attributes, metadata and name changes reach the other participant', async () => {
    const attributes = nextEvent(bob.room, RoomEvent.ParticipantAttributesChanged, 5_000, 'alice attributes at bob', (_, p) => p.identity === 'alice');
    await alice.room.localParticipant!.setAttributes({ mood: 'curious' });
    const [changed, who] = await attributes;
    expect(changed).toEqual({ mood: 'curious' });
    expect(who.attributes).toEqual({ mood: 'curious' });

    const metadata = nextEvent(bob.room, RoomEvent.ParticipantMetadataChanged, 5_000, 'alice metadata at bob', (_, p) => p.identity === 'alice');
    await alice.room.localParticipant!.updateMetadata('{"v":1}');
    expect((await metadata)[1].metadata).toBe('{"v":1}');

    const name = nextEvent(bob.room, RoomEvent.ParticipantNameChanged, 5_000, 'alice name at bob', (_, p) => p.identity === 'alice');
    await alice.room.localParticipant!.updateName('Alice A.');
    expect((await name)[0]).toBe('Alice A.');
    expect(server.room(roomName)?.participants.find((p) => p.identity === 'alice')).toMatchObject({ name: 'Alice A.', metadata: '{"v":1}', attributes: { mood: 'curious' } });
  });

  it('DataPacket: user packets go both ways with the sender identity and topic stamped by the server', async () => {
    const atBob = nextEvent(bob.room, RoomEvent.DataReceived, 5_000, 'data at bob');
    await alice.room.localParticipant!.publishData(new TextEncoder().encode('hello bob'), { reliable: true, topic: 'greeting' });
    const [payload, from, , topic] = await atBob;
    expect(new TextDecoder().decode(payload)).toBe('hello bob');
    expect(from?.identity).toBe('alice');
    expect(topic).toBe('greeting');

    const atAlice = nextEvent(alice.room, RoomEvent.DataReceived, 5_000, 'data at alice');
    await bob.room.localParticipant!.publishData(new TextEncoder().encode('hello alice'), { reliable: false, destination_identities: ['alice'] });
    const [payloadBack, fromBack] = await atAlice;
    expect(new TextDecoder().decode(payloadBack)).toBe('hello alice');
    expect(fromBack?.identity).toBe('bob');
  });

  it('RPC: performRpc alice → bob round-trips, the handler sees the caller identity, errors come back', async () => {
    bob.room.localParticipant!.registerRpcMethod('echo', async (data) => `${data.callerIdentity}:${data.payload.toUpperCase()}`);
    bob.room.localParticipant!.registerRpcMethod('fail', async () => {
      throw new RpcError(4242, 'nope');
    });
    const started = performance.now();
    const reply = await withTimeout(alice.room.localParticipant!.performRpc({ destinationIdentity: 'bob', method: 'echo', payload: 'ping' }), 8_000, 'rpc reply');
    measured.rpcRoundTripMs = (performance.now() - started).toFixed(1);
    expect(reply).toBe('alice:PING');
    const failure = await alice.room.localParticipant!.performRpc({ destinationIdentity: 'bob', method: 'fail', payload: '' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RpcError);
    expect((failure as RpcError).code).toBe(4242);
  });

  it('data streams: streamBytes alice → bob on lk.audio_stream arrives whole with its attributes', async () => {
    const pcm = new Uint8Array(48_000); // 1.5 s of 16 kHz int16 — several chunks
    for (let i = 0; i < pcm.length; i++) pcm[i] = (i * 7) % 251;
    const received = new Promise<{ bytes: Uint8Array; attributes: Record<string, string>; from: string; topic: string }>((resolve, reject) => {
      bob.room.registerByteStreamHandler('lk.audio_stream', (reader, participant) => {
        reader.readAll().then(
          (chunks) => resolve({ bytes: Buffer.concat(chunks), attributes: reader.info.attributes ?? {}, from: participant.identity, topic: reader.info.topic }),
          reject,
        );
      });
    });
    const writer = await alice.room.localParticipant!.streamBytes({
      topic: 'lk.audio_stream',
      destinationIdentities: ['bob'],
      attributes: { sample_rate: '16000', num_channels: '1' },
    });
    for (let offset = 0; offset < pcm.length; offset += 3_200) await writer.write(pcm.subarray(offset, offset + 3_200));
    await writer.close();
    const got = await withTimeout(received, 8_000, 'byte stream at bob');
    bob.room.unregisterByteStreamHandler('lk.audio_stream');
    expect(got.from).toBe('alice');
    expect(got.topic).toBe('lk.audio_stream');
    expect(got.attributes).toEqual({ sample_rate: '16000', num_channels: '1' });
    expect(Buffer.compare(Buffer.from(got.bytes), Buffer.from(pcm))).toBe(0);
  });

  it('media: audio published by alice reaches bob with energy; glass-to-glass delay of a click', async () => {
    const audio = new PacedAudio();
    try {
      const subscribed = nextEvent(bob.room, RoomEvent.TrackSubscribed, 8_000, 'bob subscribes to alice audio', (t) => t.kind === TrackKind.KIND_AUDIO);
      const publication = await audio.publish(alice.room);
      expect(publication.sid).toMatch(/^TR_/);
      const [track, remotePublication, publisher] = await subscribed;
      expect(publisher.identity).toBe('alice');
      expect(remotePublication.sid).toBe(publication.sid);
      // The publisher hears about it too (SignalResponse trackSubscribed → LocalTrackSubscribed).
      await withTimeout(publication.waitForSubscription(), 5_000, "alice's publication to be subscribed");

      const stream = new AudioStream(track as RemoteTrack, { sampleRate: 48_000, numChannels: 1 });
      const frames = stream[Symbol.asyncIterator]();
      const next = async () => {
        const result = await withTimeout(frames.next(), 3_000, 'an audio frame at bob');
        if (result.done) throw new Error('audio stream ended');
        return result.value;
      };
      // Steady tone: energy arrives.
      audio.mode = 'tone';
      let loud = 0;
      for (let i = 0; i < 150 && loud < 20; i++) if (rms((await next()).data) > 2_000) loud++;
      expect(loud, 'frames with tone energy at bob').toBeGreaterThanOrEqual(20);

      // Clicks out of silence: the delay from alice's capture to bob's first loud frame.
      audio.mode = 'silence';
      const delays: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        for (let quiet = 0; quiet < 30; ) quiet = rms((await next()).data) < 300 ? quiet + 1 : 0;
        const sentAt = await audio.click();
        for (;;) {
          const frame = await next();
          if (rms(frame.data) > 1_500) {
            delays.push(Date.now() - sentAt);
            break;
          }
          if (Date.now() - sentAt > 2_000) throw new Error('click did not arrive within 2 s');
        }
      }
      delays.sort((a, b) => a - b);
      measured.audioGlassToGlassMs = `median ${delays[1]} (all ${delays.join(', ')})`;
      measured.serverAudioFormats = (server.room(roomName)?.participants.find((p) => p.identity === 'alice')?.tracks[0]?.media.formats ?? []).join(' then ');
      expect(delays[1]).toBeLessThan(1_000);
      await frames.return?.();
    } finally {
      await audio.stop();
    }
  });

  it('MuteTrackRequest: alice mutes her microphone, bob sees TrackMuted', async () => {
    const publication = [...alice.room.localParticipant!.trackPublications.values()].find((p) => p.kind === TrackKind.KIND_AUDIO);
    expect(publication, 'alice audio publication from the previous test').toBeDefined();
    const muted = nextEvent(bob.room, RoomEvent.TrackMuted, 5_000, 'TrackMuted at bob', (pub, p) => p.identity === 'alice' && pub.sid === publication!.sid);
    setLocalTrackMuted(publication!.track!, true);
    await muted;
    expect(server.room(roomName)?.participants.find((p) => p.identity === 'alice')?.tracks.find((t) => t.sid === publication!.sid)?.muted).toBe(true);
    const unmuted = nextEvent(bob.room, RoomEvent.TrackUnmuted, 5_000, 'TrackUnmuted at bob', (pub) => pub.sid === publication!.sid);
    setLocalTrackMuted(publication!.track!, false);
    await unmuted;
  });

  it('RoomService MutePublishedTrack: the server asks alice to mute (SignalResponse mute), her client and bob agree', async () => {
    const publication = [...alice.room.localParticipant!.trackPublications.values()].find((p) => p.kind === TrackKind.KIND_AUDIO)!;
    const muted = nextEvent(bob.room, RoomEvent.TrackMuted, 5_000, 'TrackMuted at bob', (pub) => pub.sid === publication.sid);
    const client = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    const track = await client.mutePublishedTrack(roomName, 'alice', publication.sid!, true);
    expect(track.muted).toBe(true);
    await muted;
    await waitUntil(() => publication.muted === true, 5_000, "alice's own publication to show muted");
    setLocalTrackMuted(publication.track!, false);
    await waitUntil(() => bob.room.remoteParticipants.get('alice')?.trackPublications.get(publication.sid!)?.muted === false, 5_000, 'bob to see the unmute');
  });

  it('unpublish: alice unpublishes her audio, bob gets TrackUnpublished', async () => {
    const publication = [...alice.room.localParticipant!.trackPublications.values()].find((p) => p.kind === TrackKind.KIND_AUDIO);
    const unpublished = nextEvent(bob.room, RoomEvent.TrackUnpublished, 5_000, 'TrackUnpublished at bob', (pub) => pub.sid === publication!.sid);
    await alice.room.localParticipant!.unpublishTrack(publication!.sid!);
    await unpublished;
    await waitUntil(() => (server.room(roomName)?.participants.find((p) => p.identity === 'alice')?.tracks.length ?? -1) === 0, 5_000, 'server drops the track');
  });

  it('media: video frames published by alice (VideoSource RGBA) arrive at bob and change', async () => {
    const video = new CyclingVideo(320, 240, 15);
    try {
      const subscribed = nextEvent(bob.room, RoomEvent.TrackSubscribed, 8_000, 'bob subscribes to alice video', (t) => t.kind === TrackKind.KIND_VIDEO);
      await video.publish(alice.room);
      const [track] = await subscribed;
      const stream = new VideoStream(track as RemoteTrack);
      const frames = stream[Symbol.asyncIterator]();
      const levels: number[] = [];
      let size = '';
      while (levels.length < 12) {
        const result = await withTimeout(frames.next(), 5_000, `video frame ${levels.length + 1} at bob`);
        if (result.done) throw new Error('video stream ended');
        size = `${result.value.frame.width}x${result.value.frame.height}`;
        levels.push(Math.round(meanBrightness(result.value.frame)));
      }
      await frames.return?.();
      expect(size).toBe('320x240');
      expect(new Set(levels).size, `brightness levels seen: ${levels.join(',')}`).toBeGreaterThanOrEqual(3);
      measured.serverVideo = JSON.stringify(server.room(roomName)?.participants.find((p) => p.identity === 'alice')?.tracks.find((t) => t.type === 1)?.media);
    } finally {
      video.stop();
    }
  });
});

describe('subscription control', () => {
  it('UpdateSubscription: with autoSubscribe off, setSubscribed(true) subscribes and setSubscribed(false) unsubscribes', async () => {
    const speaker = await connectClient(server, { identity: 'speaker', room: 'manual' });
    const picky = await connectClient(server, { identity: 'picky', room: 'manual' }, { autoSubscribe: false });
    const audio = new PacedAudio();
    audio.mode = 'tone';
    try {
      const published = nextEvent(picky.room, RoomEvent.TrackPublished, 8_000, 'TrackPublished at picky');
      await audio.publish(speaker.room);
      const [publication] = await published;
      await sleep(300);
      expect(server.room('manual')?.participants.find((p) => p.identity === 'picky')?.subscribedTo).toEqual([]);

      const subscribed = nextEvent(picky.room, RoomEvent.TrackSubscribed, 8_000, 'TrackSubscribed after setSubscribed(true)');
      publication.setSubscribed(true);
      const [track] = await subscribed;
      const frames = new AudioStream(track as RemoteTrack, { sampleRate: 48_000, numChannels: 1 })[Symbol.asyncIterator]();
      let loud = 0;
      while (loud < 5) {
        const result = await withTimeout(frames.next(), 3_000, 'audio at picky');
        if (result.done) throw new Error('audio stream ended');
        if (rms(result.value.data) > 2_000) loud++;
      }
      await frames.return?.();

      const unsubscribed = nextEvent(picky.room, RoomEvent.TrackUnsubscribed, 8_000, 'TrackUnsubscribed after setSubscribed(false)');
      publication.setSubscribed(false);
      await unsubscribed;
      await waitUntil(() => server.room('manual')?.participants.find((p) => p.identity === 'picky')?.subscribedTo.length === 0, 5_000, 'server drops the subscription');
    } finally {
      await audio.stop();
      await speaker.room.disconnect();
      await picky.room.disconnect();
    }
  });
});

describe('leave and removal', () => {
  it('LeaveRequest: a participant that disconnects is announced DISCONNECTED (ParticipantDisconnected)', async () => {
    const stay = await connectClient(server, { identity: 'stay', room: 'leave' });
    const go = await connectClient(server, { identity: 'go', room: 'leave' });
    try {
      await waitUntil(() => stay.room.remoteParticipants.has('go'), 5_000, 'stay sees go');
      const left = nextEvent(stay.room, RoomEvent.ParticipantDisconnected, 5_000, 'go leaves', (p) => p.identity === 'go');
      await go.room.disconnect();
      await left;
      await waitUntil(() => server.room('leave')?.participants.length === 1, 5_000, 'server forgets go');
    } finally {
      await stay.room.disconnect();
    }
  });

  it('duplicate identity: a second join with the same identity replaces the first (DUPLICATE_IDENTITY)', async () => {
    const first = await connectClient(server, { identity: 'twin', room: 'dup' });
    const kicked = nextEvent(first.room, RoomEvent.Disconnected, 5_000, 'first twin disconnected');
    const second = await connectClient(server, { identity: 'twin', room: 'dup' });
    try {
      expect((await kicked)[0]).toBe(DisconnectReason.DUPLICATE_IDENTITY);
      expect(server.room('dup')?.participants.map((p) => p.sid)).toEqual([second.room.localParticipant!.sid]);
    } finally {
      await second.room.disconnect();
      await first.room.disconnect();
    }
  });
});

describe('bad input', () => {
  async function rawSignal(room: string, identity: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; join: Promise<SignalResponse> }> {
    const ws = new WebSocket(`${server.url}/rtc?protocol=16`, { headers: { authorization: `Bearer ${await server.token({ identity, room })}` } });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const join = new Promise<SignalResponse>((resolve) => ws.once('message', (data) => resolve(SignalResponse.fromBinary(data as Buffer))));
    await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5_000, 'raw signal socket');
    return { ws, closed, join };
  }

  it('malformed SignalRequest, text frames and oversized messages close only that connection', async () => {
    const witness = await connectClient(server, { identity: 'witness', room: 'bad' });
    try {
      const garbage = await rawSignal('bad', 'garbage');
      expect((await garbage.join).message.case).toBe('join');
      garbage.ws.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      expect((await withTimeout(garbage.closed, 5_000, 'close after garbage')).code).toBe(1007);

      const text = await rawSignal('bad', 'texter');
      text.ws.send('{"offer":"not protobuf"}');
      expect((await withTimeout(text.closed, 5_000, 'close after text')).code).toBe(1003);

      const big = await rawSignal('bad', 'bigmouth');
      big.ws.send(Buffer.alloc(2 * 1024 * 1024));
      expect((await withTimeout(big.closed, 5_000, 'close after oversized')).code).toBe(1009);

      expect(server.logs.some((l) => l.msg.includes('malformed SignalRequest'))).toBe(true);
      expect(server.logs.some((l) => /Max payload size exceeded/i.test(l.msg))).toBe(true);
      // The server still serves: the witness is in the room and a ping gets its pong.
      const ping = await rawSignal('bad', 'pinger');
      await ping.join;
      const pong = new Promise<SignalResponse>((resolve) => ping.ws.on('message', (data) => {
        const response = SignalResponse.fromBinary(data as Buffer);
        if (response.message.case === 'pongResp') resolve(response);
      }));
      ping.ws.send(new SignalRequest({ message: { case: 'pingReq', value: { timestamp: 42n, rtt: 0n } } }).toBinary());
      expect((await withTimeout(pong, 5_000, 'pongResp')).message.value).toMatchObject({ lastPingTimestamp: 42n });
      ping.ws.close();
      await waitUntil(() => server.room('bad')?.participants.map((p) => p.identity).join() === 'witness', 5_000, 'only the witness left');
    } finally {
      await witness.room.disconnect();
    }
  });
});

describe('RoomService (Twirp) with livekit-server-sdk', () => {
  it('CreateRoom, ListRooms, ListParticipants, RemoveParticipant, DeleteRoom', async () => {
    const client = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
    const created = await client.createRoom({ name: 'svc', metadata: 'made by test' });
    expect(created.sid).toMatch(/^RM_/);
    expect((await client.listRooms(['svc'])).map((r) => [r.name, r.metadata])).toEqual([['svc', 'made by test']]);

    const carol = await connectClient(server, { identity: 'carol', room: 'svc' });
    const dave = await connectClient(server, { identity: 'dave', room: 'svc' });
    try {
      const participants = await client.listParticipants('svc');
      expect(participants.map((p) => p.identity).sort()).toEqual(['carol', 'dave']);

      const removed = nextEvent(carol.room, RoomEvent.Disconnected, 5_000, 'carol removed');
      const gone = nextEvent(dave.room, RoomEvent.ParticipantDisconnected, 5_000, 'dave sees carol go', (p) => p.identity === 'carol');
      await client.removeParticipant('svc', 'carol');
      expect((await removed)[0]).toBe(DisconnectReason.PARTICIPANT_REMOVED);
      await gone;
      await expect(client.removeParticipant('svc', 'carol')).rejects.toMatchObject({ status: 404 });

      const deleted = nextEvent(dave.room, RoomEvent.Disconnected, 5_000, 'dave sent away by DeleteRoom');
      await client.deleteRoom('svc');
      expect((await deleted)[0]).toBe(DisconnectReason.ROOM_DELETED);
      expect(await client.listRooms(['svc'])).toEqual([]);
    } finally {
      await carol.room.disconnect();
      await dave.room.disconnect();
    }
  });

  it('Twirp auth: a wrong secret is unauthenticated (401), a token without the grant is denied (403)', async () => {
    const forged = new RoomServiceClient(server.httpUrl, server.apiKey, 'wrong');
    const error = await forged.listRooms().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TwirpError);
    expect((error as TwirpError).status).toBe(401);
    const token = await server.token({ identity: 'x', room: 'svc' });
    const denied = await fetch(`${server.httpUrl}/twirp/livekit.RoomService/ListRooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{}',
    });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ code: 'permission_denied' });
  });
});

type ServerCase = NonNullable<ServerMessage['message']['case']>;
type ServerValue<C extends ServerCase> = Extract<ServerMessage['message'], { case: C }> extends { value: infer V } ? V : never;

describe('agent dispatch (/agent worker protocol)', () => {
  /** A hand-driven worker: what agents' Worker sends, observable message by message. */
  async function rawWorker(agentName: string) {
    const token = new AccessToken(server.apiKey, server.apiSecret);
    token.addGrant({ agent: true });
    const ws = new WebSocket(`${server.url}/agent`, { headers: { authorization: `Bearer ${await token.toJwt()}` } });
    const inbox: ServerMessage[] = [];
    ws.on('message', (data) => inbox.push(ServerMessage.fromBinary(data as Buffer)));
    await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5_000, 'worker socket');
    const send = (message: WorkerMessage['message']) => ws.send(new WorkerMessage({ message }).toBinary());
    const next = async <C extends ServerCase>(kind: C, what: string): Promise<ServerValue<C>> => {
      let found: ServerMessage | undefined;
      await waitUntil(() => {
        const index = inbox.findIndex((m) => m.message.case === kind);
        if (index >= 0) found = inbox.splice(index, 1)[0];
        return found !== undefined;
      }, 5_000, what);
      return found!.message.value as ServerValue<C>;
    };
    send({ case: 'register', value: { agentName, type: JobType.JT_ROOM, version: 'test' } as never });
    const registered = await next('register', 'RegisterWorkerResponse');
    return { ws, send, next, inbox, workerId: registered.workerId, serverVersion: registered.serverInfo?.version };
  }

  it('RegisterWorkerRequest → AvailabilityRequest on the first join → JobAssignment with a token → JobTermination', async () => {
    const worker = await rawWorker('');
    try {
      expect(worker.workerId).toMatch(/^AW_/);
      expect(worker.serverVersion).toBe('1.9.0');
      const user = await connectClient(server, { identity: 'user', room: 'auto' });
      try {
        const availability = await worker.next('availability', 'AvailabilityRequest for the new room');
        expect(availability.job?.type).toBe(JobType.JT_ROOM);
        expect(availability.job?.room?.name).toBe('auto');
        worker.send({ case: 'availability', value: { jobId: availability.job!.id, available: true, participantIdentity: 'agent-bot', participantAttributes: {} } as never });
        const assignment = await worker.next('assignment', 'JobAssignment');
        expect(assignment.job?.id).toBe(availability.job?.id);
        // The assignment's token joins the room as an agent participant.
        const agentRoom = new Room();
        const seen = nextEvent(user.room, RoomEvent.ParticipantConnected, 5_000, 'user sees the agent', (p) => p.identity === 'agent-bot');
        await withTimeout(agentRoom.connect(server.url, assignment.token), 10_000, 'agent joins with the job token');
        const [agentAtUser] = await seen;
        expect(agentAtUser.kind).toBe(ParticipantInfo_Kind.AGENT as number);
        worker.send({ case: 'updateJob', value: { jobId: assignment.job!.id, status: JobStatus.JS_RUNNING, error: '' } as never });
        await waitUntil(() => server.jobs().some((j) => j.id === assignment.job!.id && j.status === JobStatus.JS_RUNNING && j.participantIdentity === 'agent-bot'), 5_000, 'job running');

        const client = new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret);
        await client.deleteRoom('auto');
        expect((await worker.next('termination', 'JobTermination')).jobId).toBe(assignment.job!.id);
        await agentRoom.disconnect();
      } finally {
        await user.room.disconnect();
      }
    } finally {
      worker.ws.close();
    }
  });

  it('explicit dispatch: named workers get jobs only from token roomConfig.agents and CreateDispatch', async () => {
    const named = await rawWorker('avatar-agent');
    try {
      // A plain join does not dispatch a named agent.
      const plain = await connectClient(server, { identity: 'plain', room: 'plain-room' });
      await sleep(300);
      expect(named.inbox.filter((m) => m.message.case === 'availability')).toEqual([]);
      await plain.room.disconnect();

      // Token room configuration naming the agent.
      const token = new AccessToken(server.apiKey, server.apiSecret, { identity: 'caller' });
      token.addGrant({ roomJoin: true, room: 'configured' });
      token.roomConfig = new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName: 'avatar-agent', metadata: '{"face":"builtin"}' })] });
        const caller = new Room();
      await withTimeout(caller.connect(server.url, await token.toJwt()), 10_000, 'caller joins');
      try {
        const fromToken = await named.next('availability', 'AvailabilityRequest from roomConfig');
        expect(fromToken.job?.agentName).toBe('avatar-agent');
        expect(fromToken.job?.metadata).toBe('{"face":"builtin"}');
        named.send({ case: 'availability', value: { jobId: fromToken.job!.id, available: false } as never });

        // Twirp CreateDispatch.
        const dispatcher = new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret);
        const dispatch = await dispatcher.createDispatch('configured', 'avatar-agent', { metadata: 'second' });
        expect(dispatch.id).toMatch(/^AD_/);
        const fromApi = await named.next('availability', 'AvailabilityRequest from CreateDispatch');
        expect(fromApi.job?.dispatchId).toBe(dispatch.id);
        expect(fromApi.job?.metadata).toBe('second');
        expect((await dispatcher.listDispatch('configured')).map((d) => d.agentName)).toEqual(['avatar-agent', 'avatar-agent']);
      } finally {
        await caller.disconnect();
      }
    } finally {
      named.ws.close();
    }
  });
});


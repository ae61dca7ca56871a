/** The Unreal bridge's pure parts: profile schema, data channel encoding, codec check, delay line. */
import { describe, expect, it } from 'vitest';
import { decodeStringMessage, decodeTrailingString, encodeStringMessage, encodeTrailingString, encodeUIInteraction } from '../src/avatar/unreal/data-channel.js';
import { DelayLine } from '../src/avatar/unreal/delay-line.js';
import { checkVideoCodecs } from '../src/avatar/unreal/player-peer.js';
import { unrealProfileSchema } from '../src/avatar/unreal/profiles.js';
import { parseToPlayerMessage } from '../src/avatar/unreal/signalling-messages.js';
import { unrealExpressionTools } from '../src/avatar/unreal/tools.js';
import { avatarInteractionSchema } from '../src/avatar/unreal/ui-interaction.js';

describe('unreal profile', () => {
  it('needs only the signalling URL; the rest has defaults', () => {
    const p = unrealProfileSchema.parse({ adapter: 'unreal', signallingUrl: 'ws://unreal-host:80' });
    expect(p).toMatchObject({ fps: 30, sampleRate: 24000, connectTimeoutMs: 15000, blendshapes: false, fallback: [] });
    expect(p.reconnect).toEqual({ attempts: 3, delayMs: 1000, maxDelayMs: 8000 });
    expect(p.audioDelay).toEqual({ lipSyncMs: 150, measureTransport: true, maxMs: 1000 });
  });

  it('rejects a non-WebSocket URL and unknown delay fields, saying what is wrong', () => {
    const bad = unrealProfileSchema.safeParse({ adapter: 'unreal', signallingUrl: 'http://unreal-host' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.message).toMatch(/ws:\/\/ or wss:\/\//);
    expect(unrealProfileSchema.safeParse({ adapter: 'unreal', signallingUrl: 'ws://h', audioDelay: { lipsync: 1 } }).success).toBe(false);
  });
});

describe('pixel streaming data channel format', () => {
  it('UIInteraction: id 50, uint16 LE length in UTF-16 units, then the units (LE), as Epic\'s frontend sends', () => {
    const bytes = encodeUIInteraction({ type: 'emotion', name: 'joy' });
    const json = '{"type":"emotion","name":"joy"}';
    expect(bytes[0]).toBe(50);
    expect(bytes[1]! | (bytes[2]! << 8)).toBe(json.length);
    expect(bytes.length).toBe(3 + 2 * json.length);
    expect(bytes[3]).toBe('{'.charCodeAt(0));
    expect(bytes[4]).toBe(0);
  });

  it('round-trips text beyond ASCII (surrogate pairs are two units) and refuses what a uint16 cannot count', () => {
    const text = 'héllo 👋 世界';
    expect(decodeStringMessage(encodeStringMessage(51, text))).toEqual({ id: 51, text });
    expect(decodeTrailingString(encodeTrailingString(255, text))).toEqual({ id: 255, text });
    expect(() => encodeStringMessage(50, 'x'.repeat(70_000))).toThrow(/at most 65535/);
  });
});

describe('signalling messages', () => {
  it('ignores types a player does not handle, rejects known ones with bad fields', () => {
    expect(parseToPlayerMessage('{"type":"playerConnected","playerId":"x"}')).toBeUndefined();
    expect(parseToPlayerMessage('{"type":"streamerList","ids":["a"]}')).toEqual({ type: 'streamerList', ids: ['a'] });
    expect(() => parseToPlayerMessage('{"type":"offer"}')).toThrow();
  });
});

describe('codec check', () => {
  const sdp = (codecs: string[]) => ['v=0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', `m=video 9 UDP/TLS/RTP/SAVPF ${codecs.map((_, i) => 96 + i).join(' ')}`, ...codecs.map((c, i) => `a=rtpmap:${96 + i} ${c}/90000`)].join('\r\n');
  it('accepts VP8/VP9/AV1 and names the launch flag when only H.264 is offered', () => {
    expect(() => checkVideoCodecs(sdp(['H264', 'rtx', 'VP8']))).not.toThrow();
    expect(() => checkVideoCodecs(sdp(['H264', 'rtx']))).toThrow(/only as H264.*-PixelStreamingEncoderCodec=VP8/);
  });
});

describe('delay line', () => {
  const chunk = (speech: boolean, tag = 1) => ({ pcm: new Int16Array(4).fill(speech ? 1 : 0), speech, tag });

  it('holds audio back by the target, in whole chunks', () => {
    const line = new DelayLine<number>(10);
    line.setDelayMs(30);
    const out = [];
    for (let i = 0; i < 3; i++) out.push(line.push(chunk(false)));
    expect(out).toEqual([undefined, undefined, undefined]);
    const first = line.push(chunk(true));
    expect(first?.speech).toBe(false); // the silence that went in first
    expect(line.heldMs).toBe(30);
  });

  it('grows and shrinks only in silence: a word is never stretched or cut', () => {
    const line = new DelayLine<number>(10);
    line.setDelayMs(0);
    // Speaking with no hold; the target rises mid-word: speech keeps flowing.
    expect(line.push(chunk(true))?.speech).toBe(true);
    line.setDelayMs(50);
    expect(line.push(chunk(true))?.speech).toBe(true);
    // In the pause that follows, the line fills up to the new hold instead of emitting.
    const pause = [0, 1, 2, 3, 4].map(() => line.push(chunk(false)));
    expect(pause.every((c) => c === undefined)).toBe(true);
    expect(line.heldMs).toBe(50);
    // The target falls: held silence is dropped at once, speech is not.
    for (let i = 0; i < 5; i++) line.push(chunk(true));
    line.setDelayMs(0);
    line.push(chunk(true));
    expect(line.heldMs).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) line.push(chunk(false));
    expect(line.heldMs).toBeLessThanOrEqual(10);
  });

  it('silences an interrupted segment in place, keeping the timing', () => {
    const line = new DelayLine<number>(10);
    line.setDelayMs(50);
    for (let i = 0; i < 5; i++) line.push(chunk(false, 0));
    for (let i = 0; i < 3; i++) line.push(chunk(true, 7));
    expect(line.holds((t) => t === 7)).toBe(true);
    line.silence((t) => t === 7);
    expect(line.holds((t) => t === 7)).toBe(false);
    expect(line.heldMs).toBe(50);
  });
});

describe('expression tools for the LLM', () => {
  it('offers only the emotions and gestures the profile lists, and sends each as a UIInteraction', async () => {
    const sent: unknown[] = [];
    const tools = unrealExpressionTools({ interact: (i) => (sent.push(i), true) }, { emotions: ['joy', 'concern'], gestures: ['nod'] });
    expect(Object.keys(tools).sort()).toEqual(['play_gesture', 'set_emotion']);
    const opts = {} as Parameters<NonNullable<typeof tools.set_emotion>['execute']>[1];
    expect(await tools.set_emotion!.execute({ name: 'joy', intensity: 0.5 }, opts)).toBe('shown');
    expect(await tools.play_gesture!.execute({ name: 'nod' }, opts)).toBe('done');
    expect(sent).toEqual([
      { type: 'emotion', name: 'joy', intensity: 0.5 },
      { type: 'gesture', name: 'nod' },
    ]);
    expect(sent.every((i) => avatarInteractionSchema.safeParse(i).success)).toBe(true);
    expect(unrealExpressionTools({ interact: () => true }, { emotions: [], gestures: [] })).toEqual({});
  });
});

/**
 * A user's page sending its pre-connect audio buffer the way livekit-client 2.x does
 * (LocalParticipant.publishTrack with `preConnectBuffer`): one byte stream named
 * `preconnect-buffer` on topic `lk.agent.pre-connect-audio-buffer` to the agent only, the
 * MediaRecorder's mime type, attributes trackId / sampleRate / channels as strings, written in
 * the recorder's chunks. Here from rtc-node, the browser client being unusable in Node.
 */
import { spawn } from 'node:child_process';
import type { Room } from '@livekit/rtc-node';
import { PRE_CONNECT_AUDIO_TOPIC } from '../../src/pipeline/pre-connect/protocol.js';

export interface PreConnectPayload {
  bytes: Uint8Array;
  mimeType?: string;
  sampleRate: number;
  channels: number;
}

export async function sendPreConnectBuffer(room: Room, to: string, trackId: string, payload: PreConnectPayload, attributes: Record<string, string> = {}): Promise<void> {
  const writer = await room.localParticipant!.streamBytes({
    name: 'preconnect-buffer',
    topic: PRE_CONNECT_AUDIO_TOPIC,
    ...(payload.mimeType ? { mimeType: payload.mimeType } : {}),
    destinationIdentities: [to],
    attributes: { trackId, sampleRate: String(payload.sampleRate), channels: String(payload.channels), ...attributes },
  });
  // MediaRecorder hands over a chunk per 100 ms timeslice; a few kB each for opus.
  for (let at = 0; at < payload.bytes.byteLength; at += 4096) await writer.write(payload.bytes.subarray(at, at + 4096));
  await writer.close();
}

/** Mono PCM16 as the browser's recorder would have it: webm/opus at 48 kHz (ffmpeg's libopus standing in for MediaRecorder). */
export function webmOpus(samples: Int16Array, sampleRate: number): Promise<PreConnectPayload> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', String(sampleRate), '-ac', '1', '-i', 'pipe:0', '-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', 'pipe:1']);
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ bytes: new Uint8Array(Buffer.concat(out)), mimeType: 'audio/webm;codecs=opus', sampleRate: 48_000, channels: 1 }) : reject(new Error(`ffmpeg: ${err}`))));
    child.stdin.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  });
}

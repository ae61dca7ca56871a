import { VideoBufferType, VideoFrame } from '@livekit/rtc-node';
import sharp, { type OutputInfo } from 'sharp';
import type { RgbaFrame } from '../frames/frame-source.js';
import { framePayloadLimit, ProtocolError, type VideoSpec } from './protocol.js';

/**
 * Turns a frame payload into the RGBA the media sinks take. JPEG goes through sharp
 * (libjpeg-turbo, on libuv's threadpool, so decoding never blocks the video clock); I420 is
 * converted by rtc-node's native converter; RGBA is used as is. Anything that is not a picture
 * of the agreed size is rejected with a ProtocolError (the caller drops it and counts it).
 */
export async function decodeFrame(payload: Uint8Array, video: VideoSpec): Promise<RgbaFrame> {
  const { width, height, format } = video;
  const limit = framePayloadLimit(format, width, height);
  if (limit.exact ? payload.byteLength !== limit.bytes : payload.byteLength > limit.bytes || payload.byteLength === 0) {
    throw new ProtocolError('bad_message', `${format} frame of ${payload.byteLength} bytes; ${width}x${height} needs ${limit.exact ? 'exactly' : 'at most'} ${limit.bytes}`);
  }
  if (format === 'rgba') return { width, height, data: new Uint8Array(payload) };
  if (format === 'i420') {
    const rgba = new VideoFrame(new Uint8Array(payload), width, height, VideoBufferType.I420).convert(VideoBufferType.RGBA);
    return { width, height, data: rgba.data };
  }
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(payload, { failOn: 'error' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ProtocolError('bad_message', `JPEG frame could not be decoded: ${(err as Error).message}`);
  }
  if (decoded.info.width !== width || decoded.info.height !== height || decoded.info.channels !== 4) {
    throw new ProtocolError('bad_message', `JPEG frame is ${decoded.info.width}x${decoded.info.height}; the session is ${width}x${height}`);
  }
  return { width, height, data: new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength) };
}

/** The renderer side of the same formats (used by the reference renderer and the fakes). */
export async function encodeFrame(frame: RgbaFrame, format: VideoSpec['format'], jpegQuality = 85): Promise<Uint8Array> {
  if (format === 'rgba') return frame.data;
  if (format === 'i420') {
    return new VideoFrame(frame.data, frame.width, frame.height, VideoBufferType.RGBA).convert(VideoBufferType.I420).data;
  }
  const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 4 } })
    .jpeg({ quality: jpegQuality, mozjpeg: false, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}

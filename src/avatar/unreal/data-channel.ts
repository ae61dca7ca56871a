/**
 * Pixel Streaming's data channel format (Epic's frontend, StreamMessageController /
 * SendMessageController): byte 0 is the message id, fields follow little-endian; a `string` field
 * is a uint16 count of UTF-16 code units, then the code units (uint16 LE each). Messages from
 * the streamer whose only field is a string (Protocol, InitialSettings, Response) carry the
 * UTF-16 text with no length, up to the end of the message.
 */

/** Player → streamer message ids (the default protocol; Unreal may announce its own table, id 255). */
export const TO_STREAMER = {
  IFrameRequest: 0,
  RequestInitialSettings: 7,
  UIInteraction: 50,
  Command: 51,
} as const;

/** Streamer → player message ids. */
export const FROM_STREAMER = {
  QualityControlOwnership: 0,
  Response: 1,
  Command: 2,
  FreezeFrame: 3,
  UnfreezeFrame: 4,
  VideoEncoderAvgQP: 5,
  LatencyTest: 6,
  InitialSettings: 7,
  Protocol: 255,
} as const;

/** Longest string a uint16 length can describe, in UTF-16 code units. */
export const MAX_STRING_UNITS = 0xffff;

/** One message with a single `string` field (UIInteraction, Command, TextboxEntry...). */
export function encodeStringMessage(id: number, text: string): Uint8Array {
  if (text.length > MAX_STRING_UNITS) {
    throw new Error(`data channel message ${id} is ${text.length} UTF-16 units; Pixel Streaming strings hold at most ${MAX_STRING_UNITS}`);
  }
  const bytes = new Uint8Array(3 + 2 * text.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, id);
  view.setUint16(1, text.length, true);
  for (let i = 0; i < text.length; i++) view.setUint16(3 + 2 * i, text.charCodeAt(i), true);
  return bytes;
}

/** A message with no fields (IFrameRequest, RequestInitialSettings). */
export function encodeEmptyMessage(id: number): Uint8Array {
  return Uint8Array.of(id);
}

/** UIInteraction: what Epic's `emitUIInteraction(descriptor)` sends, the descriptor as JSON. */
export function encodeUIInteraction(descriptor: Record<string, unknown>): Uint8Array {
  return encodeStringMessage(TO_STREAMER.UIInteraction, JSON.stringify(descriptor));
}

/** Reads the string field of a message encoded by encodeStringMessage (tests, fakes). */
export function decodeStringMessage(bytes: Uint8Array): { id: number; text: string } {
  if (bytes.length < 3) throw new Error(`data channel message of ${bytes.length} bytes has no string field`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const units = view.getUint16(1, true);
  if (bytes.length !== 3 + 2 * units) throw new Error(`data channel string says ${units} UTF-16 units but the message has ${(bytes.length - 3) / 2}`);
  return { id: bytes[0]!, text: utf16(view, 3, units) };
}

/** A streamer → player message whose payload is UTF-16 text up to the end (no length). */
export function decodeTrailingString(bytes: Uint8Array): { id: number; text: string } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { id: bytes[0]!, text: utf16(view, 1, Math.floor((bytes.length - 1) / 2)) };
}

/** The streamer side of the same: id, then UTF-16 text (what the fake streamer sends). */
export function encodeTrailingString(id: number, text: string): Uint8Array {
  const bytes = new Uint8Array(1 + 2 * text.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, id);
  for (let i = 0; i < text.length; i++) view.setUint16(1 + 2 * i, text.charCodeAt(i), true);
  return bytes;
}

function utf16(view: DataView, offset: number, units: number): string {
  const codes = new Uint16Array(units);
  for (let i = 0; i < units; i++) codes[i] = view.getUint16(offset + 2 * i, true);
  // Chunked: String.fromCharCode with a huge argument list overflows the stack.
  let text = '';
  for (let i = 0; i < units; i += 8192) text += String.fromCharCode(...codes.subarray(i, i + 8192));
  return text;
}

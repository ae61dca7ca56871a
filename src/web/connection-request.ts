import { z } from 'zod';

/**
 * The body of POST /api/connection. It is LiveKit's standard token-endpoint request (what
 * livekit-client's `TokenSource.endpoint` sends: snake_case protobuf JSON), with camelCase
 * spellings accepted too. Everything is optional: an empty body gets a fresh room.
 *
 * Fields the server decides (metadata, attributes, room_config with its agent dispatch) are
 * ignored: a browser does not choose which agent joins or what it claims to be.
 */
const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IDENTITY = /^[A-Za-z0-9_.-]{1,48}$/;
/** Letters and digits of any script, spaces and a little punctuation: it is shown to others. */
const DISPLAY_NAME = /^[\p{L}\p{N}][\p{L}\p{N} _.'-]{0,63}$/u;

const roomName = z.string().regex(ROOM_NAME, { error: 'must be 1-64 letters, digits, _ or -' });
const identity = z.string().regex(IDENTITY, { error: 'must be 1-48 letters, digits, _ . or -' });
const displayName = z.string().regex(DISPLAY_NAME, { error: 'must be 1-64 letters, digits, spaces, _ . \' or -, starting with a letter or digit' });

const bodySchema = z.object({
  room_name: roomName.optional(),
  roomName: roomName.optional(),
  participant_identity: identity.optional(),
  participantIdentity: identity.optional(),
  participant_name: displayName.optional(),
  participantName: displayName.optional(),
});

export interface ConnectionRequest {
  roomName?: string;
  /** What the caller would like to be called; the server makes it unique. */
  identityPrefix?: string;
  participantName?: string;
}

export type ParseResult = { ok: true; request: ConnectionRequest } | { ok: false; reason: string };

export function parseConnectionRequest(body: unknown): ParseResult {
  if (body === undefined || body === null || body === '') return { ok: true, request: {} };
  if (typeof body !== 'object' || Array.isArray(body)) return { ok: false, reason: 'the body must be a JSON object' };
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `${issue.path.join('.') || 'body'} ${issue.message}` };
  }
  const b = parsed.data;
  const request: ConnectionRequest = {};
  const room = b.room_name ?? b.roomName;
  const id = b.participant_identity ?? b.participantIdentity;
  const name = b.participant_name ?? b.participantName;
  if (room !== undefined) request.roomName = room;
  if (id !== undefined) request.identityPrefix = id;
  if (name !== undefined) request.participantName = name;
  return { ok: true, request };
}

/**
 * The contract between the token endpoint and the page. No Node imports: the browser bundle
 * (web/) imports this file too.
 */

/** POST here for a join token; the body is LiveKit's standard token-endpoint request. */
export const CONNECTION_PATH = '/api/connection';

/** The header a caller puts the shared key in (WEB_SHARED_KEY). */
export const SHARED_KEY_HEADER = 'x-connection-key';

/** What the browser gets: everything it needs to join, and no more (never the API secret). */
export interface ConnectionDetails {
  serverUrl: string;
  roomName: string;
  participantToken: string;
  participantName: string;
}

/** Every error answer: `{ error: reason }`, the reason meant for a person. */
export interface ErrorAnswer {
  error: string;
}

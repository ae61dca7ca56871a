import { TokenSource, type TokenSourceConfigurable } from 'livekit-client';
import { CONNECTION_PATH, SHARED_KEY_HEADER } from '../../../src/web/api';

/**
 * Where the page gets its join token: this project's endpoint, in LiveKit's standard token-endpoint
 * format, the way LiveKit's own agent front ends do it. The server picks the room, the grants and
 * the agent; the page sends only the access key, when there is one.
 */
export function connectionTokenSource(accessKey: string | undefined, endpoint: string = CONNECTION_PATH): TokenSourceConfigurable {
  return TokenSource.endpoint(endpoint, accessKey ? { headers: { [SHARED_KEY_HEADER]: accessKey } } : {});
}

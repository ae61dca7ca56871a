import { MediaDeviceFailure } from 'livekit-client';

/** Why a call could not start (or stopped), in words for the person in front of the page. */
export interface Problem {
  kind: 'microphone-denied' | 'no-microphone' | 'microphone-busy' | 'insecure-page' | 'access-key' | 'rate-limited' | 'forbidden' | 'agent' | 'server' | 'network';
  message: string;
}

/** What TokenSource.endpoint throws on a non-2xx answer: "... received <status> / <body>". */
const ENDPOINT_ERROR = /received (\d{3}) \/ ([\s\S]*)$/;

export function describeProblem(error: unknown, secureContext: boolean = globalThis.isSecureContext !== false): Problem {
  const device = MediaDeviceFailure.getFailure(error);
  if (device === MediaDeviceFailure.PermissionDenied) {
    return {
      kind: 'microphone-denied',
      message: 'Microphone access was denied. Allow the microphone for this site (the icon next to the address), then start again.',
    };
  }
  if (device === MediaDeviceFailure.NotFound) return { kind: 'no-microphone', message: 'No microphone was found. Connect one and start again.' };
  if (device === MediaDeviceFailure.DeviceInUse) {
    return { kind: 'microphone-busy', message: 'The microphone is in use by another application. Close it and start again.' };
  }
  // Browsers hide navigator.mediaDevices on plain http:// (except localhost), e.g. a phone on the LAN.
  if (!secureContext) {
    return { kind: 'insecure-page', message: 'This page needs a secure address for the microphone: open it over https:// (or on localhost).' };
  }

  const text = error instanceof Error ? error.message : String(error);
  const answer = ENDPOINT_ERROR.exec(text);
  if (answer) {
    const status = Number(answer[1]);
    const reason = serverReason(answer[2] ?? '');
    if (status === 401) return { kind: 'access-key', message: reason ? `Access key needed: ${reason}.` : 'An access key is needed.' };
    if (status === 429) return { kind: 'rate-limited', message: `Too many calls from this address just now. ${reason ?? ''}`.trim() };
    if (status === 403) return { kind: 'forbidden', message: `This page may not start calls here (${reason ?? 'forbidden'}).` };
    if (status >= 500) return { kind: 'server', message: 'The server could not set up a call right now. Try again in a moment.' };
    return { kind: 'server', message: `The call was refused: ${reason ?? `HTTP ${status}`}.` };
  }
  if (/agent/i.test(text)) return { kind: 'agent', message: `The avatar did not join: ${text}` };
  return { kind: 'network', message: `Could not connect: ${text}` };
}

function serverReason(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

// @vitest-environment happy-dom
// @vitest-environment-options {"url": "http://localhost:3000/"}
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { DisconnectReason, RoomEvent } from 'livekit-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../web/src/App';
import { installMediaDevices, type PermissionAnswer } from './fake-media';
import { FakeSfu } from './fake-sfu';

/**
 * The page's start and end of a call, on a real Room and the real session hooks. The token
 * endpoint is the network (fetch, stubbed: test/web-server.test.ts and token-source.test.ts run the
 * real one), the microphone is the browser (getUserMedia, stubbed).
 */

type Answer = { status: number; body: unknown } | 'pending';

/** The endpoint's answers in order; the last one repeats. */
function stubEndpoint(...answers: Answer[]) {
  const calls: { url: string; headers: Headers; body: unknown }[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers), body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)]!;
    if (answer === 'pending') return new Promise<Response>(() => undefined);
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetch);
  return calls;
}

function renderApp(mic: PermissionAnswer) {
  const media = installMediaDevices(mic);
  const sfu = new FakeSfu();
  render(<App room={sfu.room} />);
  return { sfu, media };
}

const start = () => act(async () => fireEvent.click(screen.getByRole('button', { name: 'Start conversation' })));

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('starting a call', () => {
  it('goes from one click to the connecting call, and back on End call', async () => {
    const calls = stubEndpoint('pending');
    const { media } = renderApp('pending');
    expect(screen.getByRole('heading', { name: 'Talk to the avatar' })).toBeTruthy();

    await start();
    expect(screen.getByTestId('agent-state').textContent).toBe('Connecting…');
    expect(media.getUserMedia).toHaveBeenCalled();
    expect(calls[0]).toMatchObject({ url: '/api/connection' });
    expect(calls[0]!.headers.get('content-type')).toBe('application/json');

    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'End call' })));
    expect(screen.getByRole('button', { name: 'Start conversation' })).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('says clearly when the microphone is blocked', async () => {
    stubEndpoint('pending');
    renderApp('denied');
    await start();
    const alert = await screen.findByRole('alert');
    expect(alert.dataset.kind).toBe('microphone-denied');
    expect(alert.textContent).toBe('Microphone access was denied. Allow the microphone for this site (the icon next to the address), then start again.');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
    expect(screen.queryByTestId('agent-state')).toBeNull();
  });

  it('says so when there is no microphone', async () => {
    stubEndpoint('pending');
    renderApp('no-device');
    await start();
    expect((await screen.findByRole('alert')).textContent).toMatch(/No microphone was found/);
  });

  it('asks for the access key when the endpoint wants one, then sends it', async () => {
    const calls = stubEndpoint({ status: 401, body: { error: 'access key required (x-connection-key header)' } }, { status: 401, body: { error: 'access key required (x-connection-key header)' } }, 'pending');
    renderApp('pending');
    await start();
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Access key needed: access key required (x-connection-key header).');

    fireEvent.change(screen.getByLabelText('Access key'), { target: { value: 'the-shared-key-123' } });
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Use key' })));
    expect(sessionStorage.getItem('avatar.accessKey')).toBe('the-shared-key-123');
    await start();
    expect(screen.getByTestId('agent-state').textContent).toBe('Connecting…');
    expect(calls.at(-1)!.headers.get('x-connection-key')).toBe('the-shared-key-123');
  });

  it('passes on the reason for a refused call', async () => {
    const tooMany = { status: 429, body: { error: 'too many requests: at most 10 per minute from one address; try again in 1 minute' } };
    // The page's early token fetch, the start's, then the one useSession makes after a call ends.
    stubEndpoint(tooMany, tooMany, 'pending');
    renderApp('pending');
    await start();
    expect((await screen.findByRole('alert')).textContent).toBe('Too many calls from this address just now. too many requests: at most 10 per minute from one address; try again in 1 minute');
  });

  it('takes the key from a link (#key=...) and clears it from the address bar', async () => {
    window.history.replaceState(null, '', '/#key=from-the-link-0123456');
    const calls = stubEndpoint('pending');
    renderApp('pending');
    expect(window.location.hash).toBe('');
    await start();
    expect(calls.at(-1)!.headers.get('x-connection-key')).toBe('from-the-link-0123456');
  });

  it('leaves at once a room whose join completes after End call', async () => {
    stubEndpoint('pending');
    const { sfu } = renderApp('pending');
    const disconnect = vi.spyOn(sfu.room, 'disconnect');
    await start();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'End call' })));
    disconnect.mockClear();
    await act(async () => {
      sfu.join();
      sfu.room.emit(RoomEvent.Connected);
    });
    expect(disconnect).toHaveBeenCalled();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('ends the call, saying why, when the avatar leaves', async () => {
    stubEndpoint('pending');
    const { sfu } = renderApp('pending');
    await start();
    await act(async () => {
      sfu.join();
      sfu.agent('agent-1', { 'lk.agent.state': 'listening' });
    });
    expect(screen.getByTestId('agent-state').textContent).toBe('Listening');
    await act(async () => sfu.leave('agent-1'));
    expect((await screen.findByRole('alert')).textContent).toBe('The avatar is not in the call: Agent left the room unexpectedly. Try again in a moment.');
    expect(screen.queryByTestId('agent-state')).toBeNull();
  });

  it('reports a disconnect it could not recover from', async () => {
    stubEndpoint('pending');
    const { sfu } = renderApp('pending');
    await start();
    await act(async () => {
      sfu.room.emit(RoomEvent.Disconnected, DisconnectReason.SIGNAL_CLOSE);
    });
    expect((await screen.findByRole('alert')).textContent).toBe('The connection was lost and could not be restored. Start again to continue.');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });
});

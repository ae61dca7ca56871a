// @vitest-environment happy-dom
// @vitest-environment-options {"url": "http://localhost:3000/"}
import { RoomContext } from '@livekit/components-react';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import { ConnectionState } from 'livekit-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeLatencyMessage, LATENCY_TOPIC, toLatencyMessage } from '../../src/metrics/latency-message';
import { CallView } from '../../web/src/call/CallView';
import { installMediaDevices } from './fake-media';
import { FakeSfu, trackInfo } from './fake-sfu';

/** The call screen on a real Room, fed protocol messages as a LiveKit server would send them. */

const AGENT = 'agent-AJ_1';
const ME = 'user-me';

function renderCall(sfu: FakeSfu, onEnd = vi.fn()) {
  render(
    <RoomContext.Provider value={sfu.room}>
      <CallView onEnd={onEnd} />
    </RoomContext.Provider>,
  );
  return { onEnd };
}

/** Lets the text-stream readers and React settle. */
const settle = () => act(async () => new Promise((r) => setTimeout(r, 20)));

beforeEach(() => {
  installMediaDevices();
});

afterEach(() => {
  cleanup();
});

describe('the call screen', () => {
  it('shows the agent state as it changes: connecting, listening, thinking, speaking', async () => {
    const sfu = new FakeSfu(ME);
    renderCall(sfu);
    expect(screen.getByTestId('agent-state').textContent).toBe('Connecting…');

    await act(async () => {
      sfu.join();
      sfu.agent(AGENT, { 'lk.agent.state': 'listening' });
    });
    expect(screen.getByTestId('agent-state').textContent).toBe('Listening');
    for (const [state, label] of [['thinking', 'Thinking'], ['speaking', 'Speaking']] as const) {
      await act(async () => sfu.agent(AGENT, { 'lk.agent.state': state }));
      expect(screen.getByTestId('agent-state').textContent).toBe(label);
    }
  });

  it('renders live captions of both sides from the transcription streams', async () => {
    const sfu = new FakeSfu(ME).join();
    sfu.agent(AGENT, { 'lk.agent.state': 'listening' });
    renderCall(sfu);
    expect(screen.queryByLabelText('Captions')).toBeNull();

    const t0 = Date.now();
    // The agent publishes the user's transcript on the user's behalf (sender = the user), first interim then final.
    sfu.textStream(ME, 'lk.transcription', 'what is the', { 'lk.segment_id': 'SG_u1', 'lk.transcription_final': 'false', 'lk.transcribed_track_id': 'TR_mic' }, t0);
    await settle();
    sfu.textStream(ME, 'lk.transcription', 'What is the weather like?', { 'lk.segment_id': 'SG_u1', 'lk.transcription_final': 'true', 'lk.transcribed_track_id': 'TR_mic' }, t0 + 10);
    sfu.textStream(AGENT, 'lk.transcription', 'Sunny and warm today.', { 'lk.segment_id': 'SG_a1', 'lk.transcription_final': 'true' }, t0 + 900);
    await settle();

    const captions = within(screen.getByLabelText('Captions'));
    const lines = captions.getAllByRole('listitem');
    expect(lines.map((l) => [l.dataset.speaker, l.dataset.final, l.querySelector('.caption-text')?.textContent])).toEqual([
      ['user', 'true', 'What is the weather like?'],
      ['agent', 'true', 'Sunny and warm today.'],
    ]);
    expect(captions.getByText('You')).toBeTruthy();
    expect(captions.getByText('Avatar')).toBeTruthy();
  });

  it('shows the avatar video when the agent publishes it, without a notice', async () => {
    const sfu = new FakeSfu(ME).join();
    renderCall(sfu);
    await act(async () =>
      sfu.agent(AGENT, { 'lk.agent.state': 'listening', 'avatar.profile': 'default', 'avatar.adapter': 'builtin', 'avatar.fallback_reason': '' }, [
        trackInfo('TR_video', 'camera', 'avatar_video'),
        trackInfo('TR_audio', 'microphone', 'avatar_audio'),
      ]),
    );
    expect(screen.getByTestId('avatar-video').tagName).toBe('VIDEO');
    expect(screen.queryByTestId('avatar-visualizer')).toBeNull();
    expect(screen.queryByTestId('avatar-notice')).toBeNull();
  });

  it("uses an avatar worker's video published on the agent's behalf", async () => {
    const sfu = new FakeSfu(ME).join();
    renderCall(sfu);
    await act(async () => {
      sfu.agent(AGENT, { 'lk.agent.state': 'listening' });
      sfu.agent('avatar-worker', { 'lk.publish_on_behalf': AGENT }, [trackInfo('TR_v2', 'camera', 'video'), trackInfo('TR_a2', 'microphone', 'audio')]);
    });
    expect(screen.getByTestId('avatar-video')).toBeTruthy();
  });

  it('shows the visualiser and the reason when the avatar has fallen back to voice only', async () => {
    const sfu = new FakeSfu(ME).join();
    renderCall(sfu);
    await act(async () =>
      sfu.agent(AGENT, { 'lk.agent.state': 'speaking', 'avatar.profile': 'none', 'avatar.adapter': 'none', 'avatar.fallback_reason': 'default: renderer failed to load' }, [
        trackInfo('TR_audio', 'microphone', 'audio'),
      ]),
    );
    expect(screen.getByTestId('avatar-visualizer')).toBeTruthy();
    expect(screen.queryByTestId('avatar-video')).toBeNull();
    expect(screen.getByTestId('avatar-notice').textContent).toBe(
      'The avatar could not start, so this call is voice only. Reason: default: renderer failed to load',
    );
  });

  it('says so when the avatar is voice only by choice', async () => {
    const sfu = new FakeSfu(ME).join();
    renderCall(sfu);
    await act(async () => sfu.agent(AGENT, { 'lk.agent.state': 'listening', 'avatar.profile': 'voice-only', 'avatar.adapter': 'none', 'avatar.fallback_reason': '' }));
    expect(screen.getByTestId('avatar-notice').textContent).toBe('This avatar is voice only.');
    expect(screen.getByTestId('avatar-visualizer')).toBeTruthy();
  });

  it('shows the latency panel only when the worker publishes timings, stage by stage', async () => {
    const sfu = new FakeSfu(ME).join();
    sfu.agent(AGENT, { 'lk.agent.state': 'listening' });
    renderCall(sfu);
    expect(screen.queryByTestId('latency-panel')).toBeNull();

    // Not a latency message (another version, or garbage): still nothing rather than a guess.
    await act(async () => {
      sfu.data(AGENT, LATENCY_TOPIC, new TextEncoder().encode('{"type":"turn_latency","v":2}'));
      sfu.data(AGENT, LATENCY_TOPIC, new TextEncoder().encode('not json'));
    });
    expect(screen.queryByTestId('latency-panel')).toBeNull();

    const endOfSpeechAt = Date.now();
    const message = toLatencyMessage({ endOfSpeechAt, transcriptMs: 180, llmFirstTokenMs: 520, ttsFirstAudioMs: 700, firstAvatarFrameMs: 840 }, 1, 1000);
    await act(async () => sfu.data(AGENT, LATENCY_TOPIC, encodeLatencyMessage(message)));

    const panel = within(screen.getByTestId('latency-panel'));
    expect(panel.getByText('Turn 1')).toBeTruthy();
    expect(panel.getByText('840 ms', { selector: '.latency-summary strong' })).toBeTruthy();
    expect(panel.getByText('within the 1000 ms budget')).toBeTruthy();
    const legend = panel.getAllByRole('listitem').filter((li) => li.dataset.stage);
    expect(legend.map((li) => li.textContent)).toEqual([
      'transcript 180 ms (+180)',
      'first LLM token 520 ms (+340)',
      'first TTS audio 700 ms (+180)',
      'first avatar frame 840 ms (+140)',
    ]);
    const bar = screen.getByRole('img', { name: /Turn 1/ });
    const segments = [...bar.querySelectorAll<HTMLElement>('.latency-segment')];
    expect(segments.map((s) => [s.dataset.stage, s.style.left, s.style.width])).toEqual([
      ['stt', '0%', '18%'],
      ['llm', '18%', '34%'],
      ['tts', '52%', '18%'],
      ['avatar', '70%', '14%'],
    ]);

    // A slow turn with a stage the worker did not see: drawn against its own length, marked over.
    const slow = toLatencyMessage({ endOfSpeechAt: endOfSpeechAt + 5000, transcriptMs: 300, ttsFirstAudioMs: 1300, firstAvatarFrameMs: 1500 }, 2, 1000);
    await act(async () => sfu.data(AGENT, LATENCY_TOPIC, encodeLatencyMessage(slow)));
    const turns = screen.getAllByText(/^Turn \d$/).map((el) => el.textContent);
    expect(turns).toEqual(['Turn 2', 'Turn 1']);
    expect(panel.getByText('500 ms over the 1000 ms budget')).toBeTruthy();
    const slowBar = screen.getByRole('img', { name: /Turn 2/ });
    expect([...slowBar.querySelectorAll<HTMLElement>('.latency-segment')].map((s) => s.dataset.stage)).toEqual(['stt', 'tts', 'avatar']);
    expect(slowBar.querySelector<HTMLElement>('.latency-budget')!.style.left).toMatch(/^66\.66/);
  });

  it('surfaces a reconnect while livekit-client recovers from a network blip', async () => {
    const sfu = new FakeSfu(ME).join();
    sfu.agent(AGENT, { 'lk.agent.state': 'listening' });
    renderCall(sfu);
    expect(screen.queryByTestId('reconnecting')).toBeNull();
    await act(async () => sfu.setConnectionState(ConnectionState.Reconnecting));
    expect(screen.getByTestId('reconnecting').textContent).toBe('Connection lost, reconnecting…');
    await act(async () => sfu.setConnectionState(ConnectionState.Connected));
    expect(screen.queryByTestId('reconnecting')).toBeNull();
  });

  it('has mute, microphone choice and end call', async () => {
    const sfu = new FakeSfu(ME).join();
    const { onEnd } = renderCall(sfu);
    expect(screen.getByRole('button', { name: 'Unmute' })).toBeTruthy();
    const select = await screen.findByRole('combobox', { name: 'Microphone' });
    expect([...select.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['Built-in microphone', 'Headset microphone']);
    screen.getByRole('button', { name: 'End call' }).click();
    expect(onEnd).toHaveBeenCalledOnce();
  });
});

/**
 * One benched conversation inside the worker process: the same offline session `converse` runs
 * (real plugins, the builtin avatar or a client one), talking to the fake cloud whose addresses come in `env`, with
 * the avatar going into the room sink minus the room. The user's voice is espeak-ng speech
 * played into the paced microphone, as in test/support/pipeline.ts.
 */
import { voice, type VAD } from '@livekit/agents';
import type { Logger } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import type { TurnTimings } from '../../src/metrics/turn-timeline.js';
import { startOfflineSession, type OfflineSession } from '../../src/offline/offline-session.js';
import { speechWithSilence } from '../../test/fakes/speech.js';
import { withTimeout } from '../../test/fakes/wait.js';
import { sharedVad } from '../../test/support/pipeline.js';
import type { AvatarKind } from './messages.js';
import { RoomlessSink, stubRoom } from './roomless-sink.js';

/** The repository's client-avatar profile (avatars/web-face: face2d, drawn by the viewer). */
const CLIENT_PROFILE = 'web-face';
import { QUESTION } from './worker-added.js';

export interface BenchConversation {
  offline: OfflineSession;
  sink: RoomlessSink;
  /** Pipeline errors the session reported. */
  errors: number;
  /** Ask the question and wait for the reply to start and to finish; the turn's timings. */
  turn(): Promise<TurnTimings>;
  close(): Promise<void>;
}

/**
 * `vad`: the model the session's VAD streams come from; default one shared by the whole process.
 * Note silero's VAD keeps every stream it ever made (VAD.stream() pushes to a private list that
 * nothing removes from), and a stream holds its whole session: a process that shares one VAD
 * across conversations keeps every finished conversation. A job process (one call, then exit)
 * does not notice; a long run must load a VAD per conversation, as each job process does.
 */
export async function startBenchConversation(env: Record<string, string>, logger: Logger, vad?: VAD, kind: AvatarKind = 'builtin'): Promise<BenchConversation> {
  const config = loadConfig(kind === 'client' ? { ...env, AVATAR: CLIENT_PROFILE } : env);
  const sink = new RoomlessSink(logger);
  // client: the worker publishes the voice only (its own AudioSource, as in a job) and a viewer
  // answers that it draws the avatar; the sink stays unused (no frames).
  const room = kind === 'client' ? stubRoom({ viewer: true }) : undefined;
  const offline = await startOfflineSession({ config, sink, logger, vad: vad ?? (await sharedVad()), ...(room ? { room } : {}) });
  if (kind === 'client' && offline.avatar.handle.profile.adapter !== 'client') {
    await offline.close();
    throw new Error(`the client conversation fell back to ${offline.avatar.handle.profile.name}`);
  }
  const conversation: BenchConversation = {
    offline,
    sink,
    errors: 0,
    async turn() {
      const audio = await speechWithSilence(QUESTION, { sampleRate: 16000, leadMs: 200, trailMs: 300 });
      const started = withTimeout(new Promise<TurnTimings>((resolve) => offline.timeline.once('turn', resolve)), 30_000, 'the avatar to start answering');
      const finished = withTimeout(replyFinished(offline.session), 60_000, 'the reply to finish');
      finished.catch(() => undefined); // reported by the await below, unless `started` fails first
      await offline.input.play(audio.samples);
      const timings = await started;
      await finished;
      return timings;
    },
    close: () => offline.close(),
  };
  offline.session.on(voice.AgentSessionEventTypes.Error, () => conversation.errors++);
  return conversation;
}

function replyFinished(session: voice.AgentSession): Promise<void> {
  return new Promise((resolve) => {
    const onState = (ev: voice.AgentStateChangedEvent) => {
      if (ev.oldState !== 'speaking') return;
      session.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
      resolve();
    };
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  });
}

import type { voice } from '@livekit/agents';
import type { AudioFrame, RemoteTrack } from '@livekit/rtc-node';
import { ReadableStream } from 'node:stream/web';
import type { PreConnectAudioReceiver } from './receiver.js';

/**
 * The shape of agents-js's room audio input (ParticipantAudioInputStream, not exported in 1.9):
 * it opens the linked participant's microphone with `createStream(track)` right after noting
 * `publication` and `participantIdentity`. Checked at run time; without it nothing is changed.
 */
interface RoomAudioInput {
  createStream(track: RemoteTrack): ReadableStream<AudioFrame>;
  publication: { sid?: string } | null;
  participantIdentity: string | null;
}

function isRoomAudioInput(x: unknown): x is RoomAudioInput {
  return typeof x === 'object' && x !== null && typeof (x as RoomAudioInput).createStream === 'function' && 'publication' in x && 'participantIdentity' in x;
}

/**
 * Plays a user's pre-connect audio into the session before their live microphone, as LiveKit's
 * Python agents do (agents-js 1.9 has no handler). Call before `session.start`: the room input
 * is created inside start and assigned to `session.input.audio`; that assignment is where its
 * microphone streams get the buffer put in front of them. Live frames that arrive meanwhile wait
 * in the track's own queue, so the question comes first and nothing after it is lost.
 */
export function playPreConnectAudioFirst(session: voice.AgentSession, receiver: PreConnectAudioReceiver): void {
  const input = session.input;
  const accessor = findAccessor(input, 'audio');
  if (!accessor?.get || !accessor.set) return;
  const { get, set } = accessor;
  Object.defineProperty(input, 'audio', {
    configurable: true,
    enumerable: accessor.enumerable ?? false,
    get() {
      return get.call(input);
    },
    set(stream: unknown) {
      if (isRoomAudioInput(stream)) wrap(stream, receiver);
      set.call(input, stream);
    },
  });
}

function wrap(input: RoomAudioInput, receiver: PreConnectAudioReceiver): void {
  const open = input.createStream.bind(input);
  input.createStream = (track) => {
    const live = open(track);
    const identity = input.participantIdentity;
    const trackId = input.publication?.sid ?? track.sid;
    if (!identity || !trackId) return live;
    return prepend(receiver.framesFor(identity, trackId), live);
  };
}

function prepend(first: Promise<AudioFrame[]>, live: ReadableStream<AudioFrame>): ReadableStream<AudioFrame> {
  let reader: ReadableStreamDefaultReader<AudioFrame> | undefined;
  return new ReadableStream<AudioFrame>({
    async start(controller) {
      for (const frame of await first.catch(() => [])) controller.enqueue(frame);
      reader = live.getReader();
    },
    async pull(controller) {
      const next = await reader!.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel(reason) {
      await (reader ? reader.cancel(reason) : live.cancel(reason));
    },
  });
}

function findAccessor(obj: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = obj; o; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return d;
  }
  return undefined;
}

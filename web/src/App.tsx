import { SessionProvider, useAgent, useSession } from '@livekit/components-react';
import { DisconnectReason, Room, RoomEvent, type RoomOptions } from 'livekit-client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { CallView } from './call/CallView';
import { readAccessKey, saveAccessKey } from './connection/access-key';
import { describeProblem, type Problem } from './connection/start-problem';
import { connectionTokenSource } from './connection/token-source';
import { Welcome } from './Welcome';

/**
 * Room settings for one voice call: only the tracks on screen are received, at the size shown, and
 * the microphone records what the user says before the agent is there (the pre-connect buffer,
 * sent to the agent once it is active). livekit-client 2.23 starts that recording only when
 * `preConnectBuffer` is in the room's publishDefaults (or the capture options):
 * setMicrophoneEnabled's publishOptions, where useSession puts it, reach publishTrack but never
 * start the recorder, so the microphone neither records nor announces a buffer.
 */
const ROOM_OPTIONS: RoomOptions = { adaptiveStream: true, dynacast: true, publishDefaults: { preConnectBuffer: true } };

export interface AppProps {
  /** A room to use instead of a new one (component tests pass one they can drive). */
  room?: Room;
  /** The token endpoint; the page's own /api/connection by default. */
  endpoint?: string;
}

/**
 * The page: a start screen, then the call. One session (useSession) holds the room for the
 * page's life. Each call joins with its own token, for a fresh room: useSession fetches the first
 * when the page loads and the next one as a call ends, so Start does not wait for it.
 */
export function App({ room: givenRoom, endpoint }: AppProps) {
  const [accessKey, setAccessKey] = useState<string | undefined>(() => readAccessKey());
  const [active, setActive] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const room = useMemo(() => givenRoom ?? new Room(ROOM_OPTIONS), [givenRoom]);
  const tokenSource = useMemo(() => connectionTokenSource(accessKey, endpoint), [accessKey, endpoint]);
  const session = useSession(tokenSource, { room });
  const agent = useAgent(session);
  /** The user wants to be in a call: false from End call (or a failure) until the next Start. */
  const wantCall = useRef(false);
  const starting = useRef<AbortController | null>(null);

  const stop = useCallback(
    async (why?: Problem) => {
      wantCall.current = false;
      starting.current?.abort();
      starting.current = null;
      setActive(false);
      setProblem(why);
      await session.end().catch(() => undefined);
    },
    [session],
  );

  const start = useCallback(async () => {
    wantCall.current = true;
    setProblem(undefined);
    setActive(true);
    const controller = new AbortController();
    starting.current = controller;
    try {
      // Publishes the microphone (asking for permission) while the token is fetched and the room
      // joined; the pre-connect buffer keeps what the user says before the agent is there.
      await session.start({
        signal: controller.signal,
        tracks: { microphone: { enabled: true, publishOptions: { preConnectBuffer: true } } },
      });
    } catch (error) {
      if (controller.signal.aborted) return; // hung up, or the agent failed: reported there
      await stop(describeProblem(error));
    } finally {
      if (starting.current === controller) starting.current = null;
    }
  }, [session, stop]);

  // The agent never came, or left: the call is over. (Its reasons come from useAgent.)
  const agentFailure = agent.state === 'failed' ? agent.failureReasons.join(' ') : undefined;
  useEffect(() => {
    if (active && agentFailure) void stop({ kind: 'agent', message: `The avatar is not in the call: ${agentFailure} Try again in a moment.` });
  }, [active, agentFailure, stop]);

  useEffect(() => {
    // A join that completes after End call (the token was already on its way) is left at once.
    const onConnected = () => {
      if (!wantCall.current) void room.disconnect();
    };
    // A network blip is handled by livekit-client (Reconnecting → Reconnected, shown in the call);
    // this is a disconnect it could not recover from, or the room being closed.
    const onDisconnected = (reason?: DisconnectReason) => {
      if (!wantCall.current) return;
      wantCall.current = false;
      setActive(false);
      setProblem(disconnectProblem(reason));
    };
    room.on(RoomEvent.Connected, onConnected).on(RoomEvent.Disconnected, onDisconnected);
    return () => {
      room.off(RoomEvent.Connected, onConnected).off(RoomEvent.Disconnected, onDisconnected);
    };
  }, [room]);

  const submitKey = useCallback((key: string) => {
    saveAccessKey(key);
    setAccessKey(key);
    setProblem(undefined);
  }, []);

  return (
    <main className="app">
      {active ? (
        <SessionProvider session={session}>
          <CallView onEnd={() => void stop()} />
        </SessionProvider>
      ) : (
        <Welcome onStart={() => void start()} problem={problem} askForKey={problem?.kind === 'access-key'} onKey={submitKey} />
      )}
    </main>
  );
}

function disconnectProblem(reason: DisconnectReason | undefined): Problem | undefined {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
      return undefined;
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return { kind: 'agent', message: 'The conversation has ended.' };
    case DisconnectReason.PARTICIPANT_REMOVED:
      return { kind: 'agent', message: 'You were removed from the conversation.' };
    default:
      return { kind: 'network', message: 'The connection was lost and could not be restored. Start again to continue.' };
  }
}

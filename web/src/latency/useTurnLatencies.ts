import { useDataChannel } from '@livekit/components-react';
import { useCallback, useState } from 'react';
import { LATENCY_TOPIC, parseLatencyPacket, type LatencyMessage } from './latency-feed';

/** The last few turns' latency messages from the worker, newest first. */
export function useTurnLatencies(keep = 4): LatencyMessage[] {
  const [turns, setTurns] = useState<LatencyMessage[]>([]);
  const onMessage = useCallback(
    (msg: { payload: Uint8Array }) => {
      const turn = parseLatencyPacket(msg.payload);
      if (!turn) return;
      setTurns((prev) => [turn, ...prev.filter((t) => !sameTurn(t, turn))].slice(0, keep));
    },
    [keep],
  );
  useDataChannel(LATENCY_TOPIC, onMessage);
  return turns;
}

function sameTurn(a: LatencyMessage, b: LatencyMessage): boolean {
  return a.turn === b.turn && a.endOfSpeechAt === b.endOfSpeechAt;
}

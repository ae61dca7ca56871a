import type { useTranscriptions } from '@livekit/components-react';

export type TranscriptionStream = ReturnType<typeof useTranscriptions>[number];

/** Attributes the agents framework puts on each `lk.transcription` stream. */
const FINAL = 'lk.transcription_final';
const SEGMENT = 'lk.segment_id';

export interface CaptionLine {
  id: string;
  speaker: 'user' | 'agent';
  text: string;
  /** false while the words may still change (interim STT, or the agent still speaking). */
  final: boolean;
  /** When the segment started (ms): lines are in speaking order. */
  at: number;
}

/**
 * Both sides' captions from the room's transcription streams. The agent publishes the user's
 * transcript too, on the user's behalf (the stream's sender is the user's identity), so the sender
 * says who spoke. Segments are updated in place by later streams with the same segment id.
 *
 * The agent's reply is one delta stream (agents 1.9) whose header says final "false" and which is
 * never sent again as final: it is final once the agent has stopped speaking (`agentSpeaking`
 * false) or a later reply has started.
 */
export function toCaptionLines(streams: readonly TranscriptionStream[], localIdentity: string, limit = 6, agentSpeaking = false): CaptionLine[] {
  const lines: CaptionLine[] = [];
  for (const s of streams) {
    const text = s.text.trim();
    if (!text) continue;
    lines.push({
      id: `${s.participantInfo.identity}:${s.streamInfo.attributes?.[SEGMENT] ?? s.streamInfo.id}`,
      speaker: s.participantInfo.identity === localIdentity ? 'user' : 'agent',
      text,
      final: s.streamInfo.attributes?.[FINAL] === 'true',
      at: s.streamInfo.timestamp,
    });
  }
  lines.sort((a, b) => a.at - b.at);
  let lastAgent: CaptionLine | undefined;
  for (const line of lines) if (line.speaker === 'agent') lastAgent = line;
  for (const line of lines) if (line.speaker === 'agent' && !(agentSpeaking && line === lastAgent)) line.final = true;
  return lines.slice(-limit);
}

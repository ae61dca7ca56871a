import { useLocalParticipant, useTranscriptions, useVoiceAssistant } from '@livekit/components-react';
import { useEffect, useRef } from 'react';
import { toCaptionLines } from './captions';

/** Live captions of both sides, newest at the bottom. */
export function Captions() {
  const streams = useTranscriptions();
  const { localParticipant } = useLocalParticipant();
  const { state } = useVoiceAssistant();
  const lines = toCaptionLines(streams, localParticipant.identity, undefined, state === 'speaking');
  const end = useRef<HTMLLIElement>(null);
  const last = lines.at(-1);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'nearest' });
  }, [last?.id, last?.text]);

  if (lines.length === 0) return null;
  return (
    <section className="captions" aria-label="Captions">
      <ol aria-live="polite">
        {lines.map((line, i) => (
          <li key={line.id} ref={i === lines.length - 1 ? end : undefined} className="caption" data-speaker={line.speaker} data-final={line.final}>
            <span className="caption-speaker">{line.speaker === 'user' ? 'You' : 'Avatar'}</span>
            <span className="caption-text">{line.text}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

import { RoomAudioRenderer, StartAudio } from '@livekit/components-react';
import { LatencyPanel } from '../latency/LatencyPanel';
import { useTurnLatencies } from '../latency/useTurnLatencies';
import { AgentStage } from './AgentStage';
import { Captions } from './Captions';
import { ControlBar } from './ControlBar';
import { StatusBar } from './StatusBar';

export interface CallViewProps {
  onEnd: () => void;
}

/** The call: state on top, the avatar in the middle, captions and latency under it, controls below. */
export function CallView({ onEnd }: CallViewProps) {
  const turns = useTurnLatencies();
  return (
    <div className="call">
      <StatusBar />
      <AgentStage />
      <Captions />
      <LatencyPanel turns={turns} />
      <ControlBar onEnd={onEnd} />
      <RoomAudioRenderer />
      {/* Only shown when the browser blocked playback (autoplay policy). */}
      <StartAudio label="Tap to hear the avatar" className="button start-audio" />
    </div>
  );
}

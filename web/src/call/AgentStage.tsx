import { BarVisualizer, VideoTrack, useVoiceAssistant } from '@livekit/components-react';
import { avatarNotice, readAvatarStatus } from './avatar-status';

/**
 * The avatar, large and centred. useVoiceAssistant finds its tracks wherever they come from: the
 * agent participant itself (the built-in avatar publishes avatar_video/avatar_audio as camera and
 * microphone) or an avatar participant publishing on the agent's behalf (lk.publish_on_behalf).
 * Without video (voice only, fallback, or not there yet) the agent's voice is drawn as bars.
 */
export function AgentStage() {
  const { state, videoTrack, audioTrack, agentAttributes } = useVoiceAssistant();
  const status = readAvatarStatus(agentAttributes);
  const notice = avatarNotice(status);
  return (
    <section className="stage" aria-label="Avatar">
      <div className="stage-frame">
        {videoTrack && !status.voiceOnly ? (
          <VideoTrack trackRef={videoTrack} className="stage-video" data-testid="avatar-video" />
        ) : (
          <BarVisualizer state={state} track={audioTrack} barCount={7} className="stage-visualizer" data-testid="avatar-visualizer" options={{ minHeight: 12 }} />
        )}
      </div>
      {notice && (
        <p className="stage-notice" role="status" data-testid="avatar-notice">
          {notice}
        </p>
      )}
    </section>
  );
}

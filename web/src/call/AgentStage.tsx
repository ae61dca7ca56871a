import { BarVisualizer, VideoTrack, useVoiceAssistant } from '@livekit/components-react';
import { readClientAvatarSpec } from '../../../src/avatar/client/protocol';
import { ClientAvatar } from '../avatar/ClientAvatar';
import { avatarNotice, readAvatarStatus } from './avatar-status';

/**
 * The avatar, large and centred. useVoiceAssistant finds its tracks wherever they come from: the
 * agent participant itself (the built-in avatar publishes avatar_video/avatar_audio as camera and
 * microphone) or an avatar participant publishing on the agent's behalf (lk.publish_on_behalf).
 * A client avatar (`avatar.client`) is drawn by this page from the voice it receives. Without
 * video (voice only, fallback, or not there yet) the agent's voice is drawn as bars.
 */
export function AgentStage() {
  const { agent, state, videoTrack, audioTrack, agentAttributes } = useVoiceAssistant();
  const status = readAvatarStatus(agentAttributes);
  const clientSpec = status.adapter === 'client' ? readClientAvatarSpec(agentAttributes) : undefined;
  const notice = avatarNotice(status);
  return (
    <section className="stage" aria-label="Avatar">
      <div className="stage-frame">
        {clientSpec && agent ? (
          <ClientAvatar spec={clientSpec} agent={agent} audioTrack={audioTrack} />
        ) : videoTrack && !status.voiceOnly ? (
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

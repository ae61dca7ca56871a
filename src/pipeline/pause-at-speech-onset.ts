import { voice } from '@livekit/agents';

/**
 * The avatar falls silent the moment the user starts talking over it, as a person does, instead of
 * talking on until the user has spoken for the barge-in minimum (INTERRUPTION_MIN_DURATION_MS).
 *
 * Why: agents 1.9 pauses a reply at the user's voice only while the reply is still being prepared.
 * Once the avatar is audible, it waits until the VAD has counted `minDuration` of speech before it
 * pauses (resumeFalseInterruption) or stops the reply. At the ear, that wait is most of a barge-in:
 * the user hears the avatar talk over them for the minimum, plus the VAD's onset, plus the audio
 * already on its way.
 *
 * What it does: when the VAD says the user started speaking while the avatar speaks, the audio
 * output is paused at once (the avatar's own pause: it keeps what the listener has not heard). From
 * there agents decides as before:
 * - speech reaching the minimum, or a transcript, interrupts: agents takes the pause over (the
 *   agent's state leaves "speaking") and ends or resumes the reply by its own rules;
 * - a sound that ends before the minimum (a cough, a chair, a door) was not a barge-in: the avatar
 *   resumes where the listener stopped hearing it, when the VAD ends that speech.
 *
 * The same guards as agents' barge-in: not during the echo-cancellation warm-up (the first 3 s of
 * the agent's speech, when agents ignores the user's voice), not over a reply that does not allow
 * interruptions, and only with an output that can pause (the built-in face, a renderer, an avatar
 * drawn in the browser; a streaming provider's avatar and Unreal cannot, and keep agents' behaviour).
 *
 * Returns a function that stops it.
 */
export function pauseAtSpeechOnset(session: voice.AgentSession): () => void {
  /** This module paused the output and agents has not taken the pause over. */
  let holding = false;

  const onUserState = (ev: voice.UserStateChangedEvent): void => {
    const audio = session.output.audio;
    if (!audio?.canPause) return;
    if (ev.newState === 'speaking') {
      if (holding || session.agentState !== 'speaking') return;
      if (session._aecWarmupRemaining > 0) return;
      const speech = session._activity?.currentSpeech;
      if (!speech || speech.interrupted || !speech.allowInterruptions) return;
      holding = true;
      audio.pause();
    } else if (holding) {
      holding = false;
      // Still "speaking": agents never counted it as a barge-in, so nothing else will resume it.
      if (session.agentState === 'speaking') audio.resume();
    }
  };
  const onAgentState = (ev: voice.AgentStateChangedEvent): void => {
    // agents interrupted (or paused) the reply itself: from here the pause is its to end.
    if (holding && ev.newState !== 'speaking') holding = false;
  };

  session.on(voice.AgentSessionEventTypes.UserStateChanged, onUserState);
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, onAgentState);
  return () => {
    session.off(voice.AgentSessionEventTypes.UserStateChanged, onUserState);
    session.off(voice.AgentSessionEventTypes.AgentStateChanged, onAgentState);
  };
}

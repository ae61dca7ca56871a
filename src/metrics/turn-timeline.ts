import { EventEmitter } from 'node:events';

/** The stages of one turn, each as milliseconds after the end of the user's speech. */
export interface TurnTimings {
  /** Wall clock (ms) when the user stopped speaking. */
  endOfSpeechAt: number;
  transcriptMs?: number;
  /**
   * The turn was committed: the end-of-turn detector (or the endpointing delay) decided the user
   * had finished. With preemptive generation the LLM and TTS may already be under way; their
   * reply is held until this mark.
   */
  endOfTurnMs?: number;
  llmFirstTokenMs?: number;
  ttsFirstAudioMs?: number;
  /** The first video frame that speaks the reply, handed to the room (or sink). */
  firstAvatarFrameMs: number;
}

export const STAGES = ['transcriptMs', 'endOfTurnMs', 'llmFirstTokenMs', 'ttsFirstAudioMs', 'firstAvatarFrameMs'] as const;

/**
 * Collects the moments of a turn as they happen, in wall-clock time, and emits one TurnTimings
 * when the avatar shows the first frame of the reply. Marks that belong to a reply that was
 * dropped (preemptive generation restarted, interruption) are overwritten by the later ones.
 */
export class TurnTimeline extends EventEmitter<{ turn: [TurnTimings] }> {
  private endOfSpeechAt: number | undefined;
  private transcriptAt: number | undefined;
  private endOfTurnAt: number | undefined;
  private llmFirstTokenAt: number | undefined;
  private ttsFirstAudioAt: number | undefined;
  // No list of past turns: a call of an hour has hundreds, and each goes out with the `turn` event.

  /** Reported at the end of the turn (end-of-utterance metrics), after the transcript: a mark, not a reset. */
  markEndOfSpeech(at: number): void {
    this.endOfSpeechAt = at;
  }

  markTranscript(at: number): void {
    this.transcriptAt = at;
  }

  markEndOfTurn(at: number): void {
    this.endOfTurnAt = at;
  }

  markLlmFirstToken(at: number): void {
    this.llmFirstTokenAt = at;
  }

  markTtsFirstAudio(at: number): void {
    this.ttsFirstAudioAt = at;
  }

  /** The reply is on screen: close the turn. Replies nobody asked for (the greeting) are not turns. */
  markFirstAvatarFrame(at: number): void {
    const end = this.endOfSpeechAt;
    if (end === undefined) return;
    const since = (t: number | undefined) => (t === undefined ? undefined : Math.round(t - end));
    const turn: TurnTimings = {
      endOfSpeechAt: end,
      ...opt('transcriptMs', since(this.transcriptAt)),
      ...opt('endOfTurnMs', since(this.endOfTurnAt)),
      ...opt('llmFirstTokenMs', since(this.llmFirstTokenAt)),
      ...opt('ttsFirstAudioMs', since(this.ttsFirstAudioAt)),
      firstAvatarFrameMs: Math.round(at - end),
    };
    this.endOfSpeechAt = undefined;
    this.transcriptAt = this.endOfTurnAt = this.llmFirstTokenAt = this.ttsFirstAudioAt = undefined;
    this.emit('turn', turn);
  }
}

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/**
 * What the fake recognizers "hear": they detect real speech by energy, but the words are scripted,
 * one entry per detected utterance, in order across all connections of a fake.
 */

/** A list consumed in order, or a function of the utterance index (0-based). */
export type TranscriptScript = string[] | ((utteranceIndex: number) => string);

export class ScriptedTranscripts {
  readonly #script: TranscriptScript;
  #next = 0;

  constructor(script: TranscriptScript = []) {
    this.#script = script;
  }

  /** Utterances transcribed so far. */
  get used(): number {
    return this.#next;
  }

  /**
   * The transcript of the next utterance. A list that has run out yields `''`, which a real
   * recognizer sends for noise it could not understand (and which the plugins ignore).
   */
  take(): string {
    const index = this.#next++;
    return typeof this.#script === 'function' ? this.#script(index) : (this.#script[index] ?? '');
  }
}

/** Deepgram-style word timings: `text`'s words spread over `startMs`..`endMs` in proportion to their length. */
export function spreadWords(text: string, startMs: number, endMs: number): { token: string; startMs: number; endMs: number }[] {
  const tokens = text.split(/\s+/).filter(Boolean);
  const weights = tokens.map((t) => t.length + 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const span = Math.max(0, endMs - startMs);
  let cursor = startMs;
  return tokens.map((token, i) => {
    const length = total > 0 ? (span * weights[i]!) / total : 0;
    const word = { token, startMs: cursor, endMs: cursor + length };
    cursor += length;
    return word;
  });
}

import { tokenize } from '@livekit/agents';

/**
 * Splits the LLM's text for the TTS so the first audio can start at the first clause.
 *
 * agents' basic sentence tokenizer sends nothing until a whole sentence of at least 20 characters
 * is followed by the start of the next one ("Sure." is merged into the next sentence), so the
 * TTS request waits for the LLM to write the second sentence. Spoken replies open with a short
 * clause ("Sure, I can do that."), and a TTS speaks a clause as naturally as a sentence; this
 * tokenizer releases the first clause of each reply as soon as the word after it begins, then
 * batches the rest into chunks of at least `minChunkLength` characters ending at a clause or
 * sentence boundary, so later requests stay long enough for good prosody.
 */
export class ClauseFirstTokenizer extends tokenize.SentenceTokenizer {
  constructor(
    private readonly options: { firstChunkLength?: number; minChunkLength?: number } = {},
  ) {
    super();
  }

  tokenize(text: string): string[] {
    return splitClauses(text).map(([piece]) => piece);
  }

  stream(): tokenize.SentenceStream {
    return new tokenize.BufferedSentenceStream(splitClauses, this.options.minChunkLength ?? 40, 1, { firstTokenLength: this.options.firstChunkLength ?? 2 });
  }
}

/** A clause ends at . ! ? … , ; : or a dash, followed by white space. */
const BOUNDARY = /(?:[.!?…]+["'”’)]*|[,;:]|\s[—–-])(?=\s)/g;
/** Shorter pieces (an abbreviation such as "Dr.", a lone "So,") are merged into the next. */
const MIN_PIECE = 3;

/** Pieces of `text` with their [start, end) offsets, as agents' BufferedTokenStream expects. */
export function splitClauses(text: string): [string, number, number][] {
  const pieces: [string, number, number][] = [];
  let start = 0;
  for (const match of text.matchAll(BOUNDARY)) {
    const end = match.index + match[0].length;
    const piece = text.slice(start, end).trim();
    if (piece.replace(/[^\p{L}\p{N}]/gu, '').length < MIN_PIECE) continue;
    pieces.push([piece, start, end]);
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest) pieces.push([rest, start, text.length]);
  return pieces;
}

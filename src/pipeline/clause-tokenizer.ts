import { tokenize } from '@livekit/agents';

/**
 * Splits the LLM's text for the TTS so the first audio can start at the first clause.
 *
 * agents' basic sentence tokenizer sends nothing until a whole sentence of at least 20 characters
 * is followed by the start of the next one ("Sure." is merged into the next sentence), so the
 * TTS request waits for the LLM to write the second sentence. Spoken replies open with a short
 * clause ("Sure, I can do that."), and a TTS speaks a clause as naturally as a sentence; this
 * tokenizer releases the first clause of each reply with the token that ends it (a word, then a
 * comma or full stop: see SETTLED_END), or else as soon as the word after it begins, then
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
    return new ClauseStream(this.options.minChunkLength ?? 40, this.options.firstChunkLength ?? 2);
  }
}

/**
 * agents' buffered stream, releasing a settled last clause while text is pushed (splitClausesSoFar);
 * a flush or the end of the input splits as splitClauses, which keeps everything anyway.
 */
class ClauseStream extends tokenize.BufferedSentenceStream {
  private pushing = false;

  constructor(minChunkLength: number, firstChunkLength: number) {
    super((text) => (this.pushing ? splitClausesSoFar(text) : splitClauses(text)), minChunkLength, 1, { firstTokenLength: firstChunkLength });
  }

  override pushText(text: string): void {
    this.pushing = true;
    try {
      super.pushText(text);
    } finally {
      this.pushing = false;
    }
  }
}

/** A clause ends at . ! ? … , ; : or a dash, followed by white space. */
const BOUNDARY = /(?:[.!?…]+["'”’)]*|[,;:]|\s[—–-])(?=\s)/g;
/** Shorter pieces (an abbreviation such as "Dr.", a lone "So,") are merged into the next. */
const MIN_PIECE = 3;

/**
 * Text that ends at a clause boundary no later token can undo: punctuation right after a letter.
 * "3." or "1," might go on ("3.5", "1,000"), "Sure," cannot: the next token starts a new word.
 * Waiting for it costs a token gap (10-15 ms from a cloud LLM, ~200 ms from a CPU one) on the
 * first clause, which is on the critical path whenever the reply is not ready before the commit.
 */
const SETTLED_END = /\p{L}(?:[.!?…]+|[,;:])["'”’)]*$/u;

/**
 * splitClauses for text still being streamed: agents' BufferedTokenStream keeps the last piece
 * back as possibly unfinished, so a settled last piece is followed by an empty one to release it.
 */
export function splitClausesSoFar(text: string): [string, number, number][] {
  const pieces = splitClauses(text);
  const last = pieces.at(-1);
  if (last && SETTLED_END.test(text) && letters(last[0]) >= MIN_PIECE) pieces.push(['', text.length, text.length]);
  return pieces;
}

const letters = (piece: string) => piece.replace(/[^\p{L}\p{N}]/gu, '').length;

/** Pieces of `text` with their [start, end) offsets, as agents' BufferedTokenStream expects. */
export function splitClauses(text: string): [string, number, number][] {
  const pieces: [string, number, number][] = [];
  let start = 0;
  for (const match of text.matchAll(BOUNDARY)) {
    const end = match.index + match[0].length;
    const piece = text.slice(start, end).trim();
    if (letters(piece) < MIN_PIECE) continue;
    pieces.push([piece, start, end]);
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest) pieces.push([rest, start, text.length]);
  return pieces;
}

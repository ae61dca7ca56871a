/**
 * What the TTS is asked to say, and when: the first clause of a reply goes out with the token that
 * ends it, or when the next word arrives if that token could still go on (agents' sentence tokenizer holds it until the next sentence has begun and
 * merges short sentences), the rest in sentence-sized chunks, and no text is lost or reordered.
 */
import { describe, expect, it } from 'vitest';
import { tokenize } from '@livekit/agents';
import { ClauseFirstTokenizer, splitClauses } from '../../src/pipeline/clause-tokenizer.js';

const REPLY = 'Sure, I can do that. Your booking is now on Thursday at ten, and you will get an email with the details shortly.';

/** Pushes the reply word by word, as an LLM streams it; records after which word each chunk came out. */
async function feed(stream: tokenize.SentenceStream, text: string): Promise<{ token: string; afterWord: number }[]> {
  const out: { token: string; afterWord: number }[] = [];
  let pushed = 0;
  const reading = (async () => {
    for await (const t of stream) out.push({ token: t.token, afterWord: pushed });
  })();
  const words = text.split(' ');
  for (const [i, word] of words.entries()) {
    stream.pushText(i === 0 ? word : ` ${word}`);
    pushed = i + 1;
    // Let the reader take whatever was emitted, as the event loop would between two LLM deltas.
    await new Promise((r) => setImmediate(r));
  }
  stream.endInput();
  await reading;
  return out;
}

describe('ClauseFirstTokenizer', () => {
  it('releases the first clause with the token that ends it, then sentence-sized chunks; nothing lost', async () => {
    const chunks = await feed(new ClauseFirstTokenizer().stream(), REPLY);
    expect(chunks[0]).toEqual({ token: 'Sure,', afterWord: 1 });
    expect(chunks.map((c) => c.token).join(' ')).toBe(REPLY);
    for (const c of chunks.slice(1, -1)) expect(c.token.length).toBeGreaterThanOrEqual(40);
  });

  it("does better than agents' sentence tokenizer, which holds the reply until the second sentence is under way", async () => {
    const stock = await feed(new tokenize.basic.SentenceTokenizer().stream(), REPLY);
    const ours = await feed(new ClauseFirstTokenizer().stream(), REPLY);
    expect(stock[0]!.afterWord).toBeGreaterThan(ours[0]!.afterWord + 3);
  });

  it('each new reply (a flush) starts with a fast first clause again', async () => {
    const stream = new ClauseFirstTokenizer().stream();
    const tokens: string[] = [];
    const reading = (async () => {
      for await (const t of stream) tokens.push(t.token);
    })();
    stream.pushText('Okay, noted. I will call you back tomorrow morning with the answer. ');
    stream.flush();
    stream.pushText('Hello again, how can I help you today? ');
    stream.endInput();
    await reading;
    expect(tokens[0]).toBe('Okay,');
    expect(tokens).toContain('Hello again,');
  });

  it('waits for the next token where the clause could still go on: a number, a short word', async () => {
    // "1," may be "1,000"; "So," is too short to say alone and is kept with what follows.
    const chunks = await feed(new ClauseFirstTokenizer().stream(), 'It is 1,000 dollars a month, paid in advance.');
    expect(chunks[0]).toEqual({ token: 'It is 1,000 dollars a month,', afterWord: 6 });
    const tokens: string[] = [];
    const stream = new ClauseFirstTokenizer().stream();
    const reading = (async () => {
      for await (const t of stream) tokens.push(t.token);
    })();
    for (const delta of ['It is 1,', '000 dollars.', ' So,', ' yes.']) {
      stream.pushText(delta);
      await new Promise((r) => setImmediate(r));
    }
    stream.endInput();
    await reading;
    expect(tokens).toEqual(['It is 1,000 dollars.', 'So, yes.']);
  });

  it('does not split inside numbers, abbreviations or words', () => {
    expect(splitClauses('It costs 3.5 dollars, Dr. Smith said.').map(([p]) => p)).toEqual(['It costs 3.5 dollars,', 'Dr. Smith said.']);
    expect(splitClauses('No punctuation at all').map(([p]) => p)).toEqual(['No punctuation at all']);
  });
});

/**
 * LLM_HISTORY_MAX_ITEMS on the wire: over a long call the LLM is sent the instructions and the most
 * recent items only, so the prompt (its cost, its time to first token, a small model's context)
 * stops growing with every turn, while the instructions are never the part that is dropped.
 */
import { afterEach, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const QUESTIONS = ['What time do you open tomorrow?', 'Is there parking near the office?', 'Can I bring my dog?'];
const INSTRUCTIONS = 'You are the front desk of a small hotel. Answer in one short sentence.';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

it('the LLM gets the instructions and the latest items, not the whole call', async () => {
  pipeline = await startPipeline({
    transcripts: QUESTIONS,
    reply: 'Yes, of course.',
    env: { LLM_HISTORY_MAX_ITEMS: '2', AGENT_INSTRUCTIONS: INSTRUCTIONS },
  });
  for (const question of QUESTIONS) {
    const turn = pipeline.nextTurn(30_000);
    await pipeline.say(question);
    await turn;
    await pipeline.replyDone();
  }
  const chats = pipeline.openai.requestsFor('chat');
  const last = (chats.at(-1)!.body as { messages: { role: string; content: unknown }[] }).messages;
  const text = (m: { content: unknown }) => JSON.stringify(m.content);
  expect(text(last[0]!)).toContain(INSTRUCTIONS);
  expect(['system', 'developer']).toContain(last[0]!.role);
  // The answer before it and the question: the first question is no longer sent.
  expect(last.map((m) => m.role)).toEqual([last[0]!.role, 'assistant', 'user']);
  expect(text(last.at(-1)!)).toContain('dog');
  expect(last.some((m) => text(m).includes('open tomorrow'))).toBe(false);
  // The first question went with the instructions and nothing else: nothing was dropped before the limit.
  const first = (chats.find((c) => JSON.stringify(c.body).includes('open tomorrow'))!.body as { messages: { role: string }[] }).messages;
  expect(first.map((m) => m.role)).toEqual([last[0]!.role, 'user']);
});

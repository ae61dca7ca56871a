import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstClauseGaps, linkValues } from '../../bench/turns/report.js';
import { fakesTrace, type FakesTrace } from '../../bench/turns/rig.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';

/**
 * bench:turns subtracts the fakes' own lateness from worker-added: the fakes' timers run in the
 * bench's process, and on a busy machine they fire late. Here the fake shares this process, so
 * blocking the event loop makes it late exactly as a busy bench does.
 */
const REPLY = 'Sure, I can move it to Thursday.';
const draw = { sttFinalMs: 0, llmTtftMs: 80, ttsTtfbMs: 60 };
const TOKEN_MS = 20;

async function turn(openai: FakeOpenAI, blockMs: number, beforeSpeechMs = 0): Promise<FakesTrace | undefined> {
  const auth = { Authorization: 'Bearer sk-test-123', 'Content-Type': 'application/json' };
  const before = openai.requestsFor('chat').length;
  const chat = fetch(`${openai.baseURL}/chat/completions`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'Can you move my booking?' }] }),
  });
  // Once the fake has the request it waits out its time to first token: a busy process holds
  // that timer back.
  while (openai.requestsFor('chat').length === before) await new Promise((r) => setImmediate(r));
  if (blockMs > 0) {
    const until = performance.now() + blockMs;
    while (performance.now() < until);
  }
  await (await chat).text();
  if (beforeSpeechMs > 0) await new Promise((r) => setTimeout(r, beforeSpeechMs));
  const speech = await fetch(`${openai.baseURL}/audio/speech`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'tts-1', input: 'Sure,', voice: 'alloy', response_format: 'pcm' }) });
  await speech.arrayBuffer();
  return fakesTrace(openai.requests, Date.now(), firstClauseGaps(REPLY), draw, TOKEN_MS);
}

describe("bench:turns: the fakes' own lateness", () => {
  let openai: FakeOpenAI;
  beforeAll(async () => {
    openai = await startFakeOpenAI({ reply: REPLY, knobs: { chat: { ttftMs: draw.llmTtftMs, tokenIntervalMs: TOKEN_MS }, speech: { ttfbMs: draw.ttsTtfbMs } } });
  });
  afterAll(async () => {
    await openai.close();
  });

  it('is what the fake was held back beyond the drawn delays, and the requests answering the reply are the ones read', async () => {
    const blocked = (await turn(openai, 400))?.lateMs;
    // The block falls inside the fake's ttft wait: the first clause is late by the block less the
    // part of the ttft it overlapped.
    expect(blocked).toBeGreaterThanOrEqual(400 - draw.llmTtftMs - 5);
    const quiet = (await turn(openai, 0))?.lateMs;
    expect(quiet).toBeDefined();
    // On a quiet process a fake is on time within timer and synthesis noise, far below the block.
    expect(quiet!).toBeLessThan(blocked! - 200);
  });

  it("puts a client's own delay in its link, not in the fakes' lateness", async () => {
    // A worker that takes 300 ms between the LLM's first clause and asking for its speech.
    const trace = await turn(openai, 0, 300);
    expect(trace).toBeDefined();
    const result = { turn: 1, wav: 'x.wav', reply: REPLY, draw, falseCutIn: false, missed: false, states: [], fakes: trace!, stages: { firstAvatarFrameMs: 0 }, endOfSpeechAt: 0 };
    expect(linkValues([result], 'first clause sent → TTS request arrives')[0]).toBeGreaterThanOrEqual(300);
    expect(trace!.lateMs).toBeLessThan(200);
  });

  it('is unknown when the reply came before any answer of the fakes', () => {
    expect(fakesTrace(openai.requests, 0, firstClauseGaps(REPLY), draw, TOKEN_MS)).toBeUndefined();
  });
});

/**
 * The reply's HTTP requests (LLM, OpenAI-compatible TTS) go out on connections that are already
 * open, so neither pays a TCP+TLS handshake on the critical path. The fake OpenAI charges
 * `connectMs` for the first request on each new connection, as a cloud API's handshakes would, and
 * closes idle connections after 5 s as uvicorn and Node servers do; Node's fetch drops its own
 * after 4 s idle, which is why, without the warmer, a turn after a pause always opened new ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

const QUESTION = 'What time do you open tomorrow?';
const REPLY = 'We open at nine. See you then!';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function oneTurn(env: Record<string, string>) {
  pipeline = await startPipeline({ transcripts: [QUESTION], reply: REPLY, env: { TURN_PRESET: 'tuned', ...env } });
  pipeline.openai.setConnectMs(250);
  const turn = pipeline.nextTurn(30_000);
  await pipeline.say(QUESTION);
  await turn;
  await pipeline.replyDone();
  const opened = pipeline.openai.connectionsOpenedBy();
  return { replyOpened: opened.filter((e) => e === 'chat' || e === 'speech'), opened };
}

describe('WARM_CONNECTIONS', () => {
  it('on (tuned default): the LLM and TTS requests of the reply open no connection of their own', async () => {
    const { replyOpened, opened } = await oneTurn({});
    expect(replyOpened, `connections opened, by first request: ${opened.join(', ')}`).toEqual([]);
    expect(opened.filter((e) => e === 'models').length).toBeGreaterThanOrEqual(2);
  });

  it('off: the reply opens its own connections and pays the handshake on the critical path', async () => {
    const { replyOpened } = await oneTurn({ WARM_CONNECTIONS: 'false' });
    expect(replyOpened.length).toBeGreaterThanOrEqual(1);
  });
});

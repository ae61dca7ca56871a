import { afterEach, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { startLoopbackServer, readBody, type LoopbackServer } from './fakes/net.js';
import { startPipeline, type Pipeline } from './support/pipeline.js';
import { startTracing, type Tracing } from '../src/telemetry/tracing.js';

/**
 * OpenTelemetry pass-through: with a collector configured, the agents framework's own spans for
 * a real turn (the whole pipeline against the provider fakes) reach it over OTLP/HTTP, carrying
 * the call's attributes. The collector is a loopback HTTP server that keeps what it is sent.
 */
let pipeline: Pipeline | undefined;
let collector: LoopbackServer | undefined;
let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  await pipeline?.close();
  await collector?.close();
  pipeline = undefined;
  collector = undefined;
  tracing = undefined;
});

describe('tracing', () => {
  it("sends the agents framework's spans for a turn to an OTLP/HTTP collector, tagged with the call", async () => {
    const received: { path: string; contentType: string; body: Buffer }[] = [];
    collector = await startLoopbackServer(async (req, res) => {
      let body = await readBody(req);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      received.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
    tracing = startTracing({
      endpoint: `http://127.0.0.1:${collector.port}/`,
      serviceName: 'voice-avatar-test',
      attributes: { room_name: 'trace-room-42', job_id: 'AJ_trace' },
    });
    pipeline = await startPipeline({ transcripts: ['What is the capital of France?'], reply: 'Paris.' });
    const turn = pipeline.nextTurn();
    await pipeline.say('What is the capital of France?');
    await turn;
    await pipeline.replyDone();
    await tracing.shutdown();

    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.path === '/v1/traces' && r.contentType === 'application/x-protobuf')).toBe(true);
    // OTLP protobuf keeps strings as UTF-8 bytes: names and attribute values can be found as they are.
    const all = Buffer.concat(received.map((r) => r.body)).toString('latin1');
    expect(all).toContain('voice-avatar-test');
    for (const span of ['agent_turn', 'llm_node', 'tts_node']) expect(all, `span ${span}`).toContain(span);
    expect(all).toContain('trace-room-42');
  }, 90_000);
});

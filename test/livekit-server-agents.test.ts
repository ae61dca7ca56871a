/**
 * The test server with a real `@livekit/agents` 1.9 worker (AgentServer, as `cli.runApp` builds it):
 * the worker registers on `/agent`, gets a job when a user joins (automatic dispatch to an unnamed
 * worker) or when CreateDispatch names it, forks a job process that joins with the assignment's
 * token, publishes a tone and answers RPC. Kept apart from livekit-server.test.ts because each job
 * is a child process (a few seconds on a small machine).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentServer, initializeLogger, ServerOptions } from '@livekit/agents';
import { JobStatus, ParticipantInfo_Kind } from '@livekit/protocol';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { AudioStream, dispose, TrackKind, type RemoteTrack } from '@livekit/rtc-node';
import { startTestLiveKitServer, type TestLiveKitServer } from './livekit-server/index.js';
import { connectClient, nextEvent, rms, RoomEvent, waitUntil, withTimeout } from './livekit-server/testing.js';

const AGENT_FILE = fileURLToPath(new URL('./livekit-server/fixtures/tone-agent.mjs', import.meta.url));

let server: TestLiveKitServer;
const workers: AgentServer[] = [];

function startWorker(agentName = ''): AgentServer {
  const worker = new AgentServer(
    new ServerOptions({
      agent: AGENT_FILE,
      wsURL: server.url,
      apiKey: server.apiKey,
      apiSecret: server.apiSecret,
      agentName,
      // The health server binds an ephemeral loopback port (dev mode), not 8081 on every interface.
      host: '127.0.0.1',
      production: false,
      logLevel: 'warn',
    }),
  );
  workers.push(worker);
  worker.run().catch((error: unknown) => {
    // Surfaces in the test through the bounded waits; printed for the reader.
    process.stderr.write(`agent worker stopped: ${String(error)}\n`);
  });
  return worker;
}

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'warn' });
  server = await startTestLiveKitServer({ departureTimeoutS: 1 });
});

afterAll(async () => {
  for (const worker of workers) await withTimeout(worker.close(), 20_000, 'worker to close').catch(() => undefined);
  await server?.close();
  await dispose();
});

describe('@livekit/agents worker against the test server', () => {
  it('automatic dispatch: an unnamed worker gets a JT_ROOM job, its job process joins as an agent and publishes audio', async () => {
    startWorker('');
    await waitUntil(() => server.workers().length === 1, 15_000, 'the worker to register');
    const started = performance.now();
    const user = await connectClient(server, { identity: 'visitor', room: 'agent-room' });
    try {
      const [track, , agent] = await nextEvent(user.room, RoomEvent.TrackSubscribed, 30_000, "the agent's tone track", (t) => t.kind === TrackKind.KIND_AUDIO);
      const agentJoinMs = performance.now() - started;
      expect(agent.kind).toBe(ParticipantInfo_Kind.AGENT as number);
      expect(agent.identity).toMatch(/^agent-AJ_/);
      expect(agent.attributes['lk.agent.name']).toBe('');

      const stream = new AudioStream(track as RemoteTrack, { sampleRate: 48_000, numChannels: 1 });
      let loud = 0;
      for await (const frame of stream) if (rms(frame.data) > 2_000 && ++loud >= 10) break;
      expect(loud).toBe(10);

      const reply = JSON.parse(await user.room.localParticipant!.performRpc({ destinationIdentity: agent.identity, method: 'whoami', payload: '' })) as { job: string };
      const job = server.jobs().find((j) => j.id === reply.job);
      expect(job).toMatchObject({ room: 'agent-room', participantIdentity: agent.identity });
      await waitUntil(() => server.jobs().find((j) => j.id === reply.job)?.status === JobStatus.JS_RUNNING, 5_000, 'the worker to report the job running');
      process.stdout.write(`agent joined and published ${agentJoinMs.toFixed(0)} ms after the user joined\n`);

      const gone = nextEvent(user.room, RoomEvent.ParticipantDisconnected, 15_000, 'the agent to leave', (p) => p.identity === agent.identity);
      await new RoomServiceClient(server.httpUrl, server.apiKey, server.apiSecret).removeParticipant('agent-room', agent.identity);
      await gone;
    } finally {
      await user.room.disconnect();
    }
  });

  it('explicit dispatch: AgentDispatchService.CreateDispatch sends a named worker into the room with its metadata', async () => {
    startWorker('named-agent');
    await waitUntil(() => server.workers().some((w) => w.agentName === 'named-agent'), 15_000, 'the named worker to register');
    const user = await connectClient(server, { identity: 'host', room: 'named-room' });
    try {
      const joined = nextEvent(user.room, RoomEvent.ParticipantConnected, 30_000, 'the named agent', (p) => p.attributes['lk.agent.name'] === 'named-agent');
      const dispatch = await new AgentDispatchClient(server.httpUrl, server.apiKey, server.apiSecret).createDispatch('named-room', 'named-agent', { metadata: '{"avatar":"builtin"}' });
      const [agent] = await joined;
      await waitUntil(() => agent.trackPublications.size > 0, 10_000, 'the named agent to publish');
      const reply = JSON.parse(await user.room.localParticipant!.performRpc({ destinationIdentity: agent.identity, method: 'whoami', payload: '' })) as { metadata: string };
      expect(reply.metadata).toBe('{"avatar":"builtin"}');
      expect(server.jobs().find((j) => j.dispatchId === dispatch.id)?.agentName).toBe('named-agent');
      // The room also got its default dispatch, so the unnamed worker's agent is there too.
      expect([...user.room.remoteParticipants.values()].filter((p) => p.kind === (ParticipantInfo_Kind.AGENT as number))).toHaveLength(2);

      // When the last non-agent leaves, the room closes after departureTimeout and the agents go.
      await user.room.disconnect();
      await waitUntil(() => server.room('named-room') === undefined, 10_000, 'the room to close without its user');
    } finally {
      await user.room.disconnect();
    }
  });
});

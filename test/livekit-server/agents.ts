/**
 * Agent dispatch, as LiveKit server 1.9 does it for `@livekit/agents` workers:
 * - workers connect to `/agent` (token with the `agent` grant) and register (RegisterWorkerRequest
 *   → RegisterWorkerResponse with a worker id);
 * - every room gets dispatches: those in its configuration (token `roomConfig.agents`,
 *   CreateRoom `agents`) or, when none, one default dispatch for unnamed workers; CreateDispatch
 *   adds more. A dispatch launches a JT_ROOM job when the room starts (or at once for a live
 *   room), a JT_PARTICIPANT job per joining participant and a JT_PUBLISHER job per participant's
 *   first publication, each to a worker registered for that agent name and job type;
 * - launching a job: after the `holdDispatch` hook, if any (a deployment whose dispatch is slow:
 *   workers scaling from zero, a queue in front of them), AvailabilityRequest to the least loaded
 *   available worker; when it accepts,
 *   JobAssignment with a join token built like the Go server's BuildAgentToken; when it declines
 *   or stays silent (10 s), the next worker is asked;
 * - the room closing, or DeleteDispatch, sends JobTermination for its jobs.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  AgentDispatch,
  AgentDispatchState,
  AvailabilityRequest,
  Job,
  JobAssignment,
  JobState,
  JobStatus,
  JobTermination,
  JobType,
  ParticipantPermission,
  RegisterWorkerResponse,
  ServerMessage,
  WorkerMessage,
  WorkerPong,
  WorkerStatus,
  type AvailabilityResponse,
  type CreateAgentDispatchRequest,
  type RegisterWorkerRequest,
} from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import { WebSocket, type WebSocketServer } from 'ws';
import { AuthError, tokenFromRequest, type Authenticator } from './auth.js';
import { newSid } from './ids.js';
import { errorText, type ServerLog } from './log.js';
import type { Participant } from './participant.js';
import { serverInfo, type Room } from './room.js';
import type { RoomLifecycle, RoomRegistry } from './rooms.js';
import { refuseUpgrade } from './signal.js';

const AVAILABILITY_TIMEOUT_MS = 10_000;
/** The attribute the Go server stamps on agent participants. */
const AGENT_NAME_ATTRIBUTE = 'lk.agent.name';

interface Worker {
  id: string;
  ws: WebSocket;
  agentName: string;
  namespace: string;
  type: JobType;
  permissions: ParticipantPermission;
  status: WorkerStatus;
  load: number;
  jobs: Set<string>;
  pendingAvailability: Map<string, (response: AvailabilityResponse | undefined) => void>;
}

interface JobRecord {
  job: Job;
  workerId: string;
  roomName: string;
}

interface DispatchRecord {
  dispatch: AgentDispatch;
  roomName: string;
}

export interface WorkerSnapshot {
  id: string;
  agentName: string;
  type: JobType;
  status: WorkerStatus;
  load: number;
  jobs: string[];
}

export interface JobSnapshot {
  id: string;
  dispatchId: string;
  type: JobType;
  room: string;
  agentName: string;
  workerId: string;
  status: JobStatus;
  participantIdentity: string;
  error: string;
}

export interface AgentDispatcherOptions {
  auth: Authenticator;
  rooms: RoomRegistry;
  log: ServerLog;
  wss: WebSocketServer;
  nodeId: string;
  apiKey: string;
  apiSecret: string;
  url(): string;
  /** Awaited before each job is offered to a worker (TestLiveKitServerOptions.holdDispatch). */
  holdDispatch?: DispatchHold;
}

/** What a held dispatch is for. */
export interface HeldDispatch {
  room: string;
  agentName: string;
  type: JobType;
}

export type DispatchHold = (dispatch: HeldDispatch) => Promise<void>;

export class AgentDispatcher implements RoomLifecycle {
  private readonly workers = new Map<string, Worker>();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly dispatches = new Map<string, DispatchRecord>();
  private readonly log: ServerLog;

  constructor(private readonly opts: AgentDispatcherOptions) {
    this.log = opts.log;
  }

  // ---- worker connections ----

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    try {
      const claims = await this.opts.auth.verify(tokenFromRequest(req, url));
      if (!claims.video.agent) throw new AuthError('permission denied: the token has no agent grant');
    } catch (error) {
      const status = error instanceof AuthError ? error.status : 500;
      this.log.warn(`agent: worker refused with ${status}: ${errorText(error)}`);
      refuseUpgrade(socket, status, errorText(error));
      return;
    }
    this.opts.wss.handleUpgrade(req, socket, head, (ws) => this.serveWorker(ws));
  }

  private serveWorker(ws: WebSocket): void {
    let worker: Worker | undefined;
    const drop = (why: string, code: number) => {
      this.log.warn(`agent: closing worker ${worker?.id ?? '(unregistered)'}: ${why}`);
      ws.close(code, why.slice(0, 120));
    };
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return drop('text frame (worker messages are binary protobuf)', 1003);
      let message: WorkerMessage;
      try {
        message = WorkerMessage.fromBinary(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
      } catch (error) {
        return drop(`malformed WorkerMessage (${errorText(error)})`, 1007);
      }
      const m = message.message;
      if (!worker) {
        if (m.case !== 'register') return drop(`expected register first, got ${m.case ?? 'nothing'}`, 1008);
        worker = this.register(ws, m.value);
        return;
      }
      switch (m.case) {
        case 'availability':
          worker.pendingAvailability.get(m.value.jobId)?.(m.value);
          return;
        case 'updateWorker':
          worker.status = m.value.status ?? worker.status;
          worker.load = m.value.load;
          return;
        case 'updateJob':
          this.updateJob(m.value.jobId, m.value.status, m.value.error);
          return;
        case 'ping':
          sendTo(worker, { case: 'pong', value: new WorkerPong({ lastTimestamp: m.value.timestamp, timestamp: BigInt(Date.now()) }) });
          return;
        case 'simulateJob': {
          const roomName = m.value.room?.name;
          const room = roomName ? this.opts.rooms.get(roomName) : undefined;
          if (!room) {
            this.log.warn(`agent: simulateJob for unknown room ${roomName ?? '(none)'}`);
            return;
          }
          // As in Go: a one-off job for this worker, not a dispatch the room keeps.
          const type = m.value.participant ? JobType.JT_PUBLISHER : JobType.JT_ROOM;
          const dispatch = newDispatch(room.name, { agentName: worker.agentName, metadata: '', attributes: {} });
          void this.launch(room, dispatch, type, undefined, [worker]);
          return;
        }
        default:
          this.log.debug(`agent: worker ${worker.id} sent ${m.case ?? 'nothing'}, ignored`);
      }
    });
    ws.on('error', (error) => this.log.warn(`agent: worker ${worker?.id ?? '(unregistered)'} connection failed: ${errorText(error)}`));
    ws.on('close', () => {
      if (!worker) return;
      this.workers.delete(worker.id);
      for (const resolve of worker.pendingAvailability.values()) resolve(undefined);
      this.log.info(`agent: worker ${worker.id} disconnected`);
    });
  }

  private register(ws: WebSocket, request: RegisterWorkerRequest): Worker {
    const worker: Worker = {
      id: newSid('AW_'),
      ws,
      agentName: request.agentName,
      namespace: request.namespace ?? '',
      type: request.type,
      // Go's default when a worker does not say: publish, subscribe, data, metadata.
      permissions: request.allowedPermissions ?? new ParticipantPermission({ canPublish: true, canSubscribe: true, canPublishData: true, canUpdateMetadata: true }),
      status: WorkerStatus.WS_AVAILABLE,
      load: 0,
      jobs: new Set(),
      pendingAvailability: new Map(),
    };
    this.workers.set(worker.id, worker);
    sendTo(worker, { case: 'register', value: new RegisterWorkerResponse({ workerId: worker.id, serverInfo: serverInfo(this.opts.nodeId) }) });
    this.log.info(`agent: worker ${worker.id} registered (agent "${worker.agentName}", ${JobType[worker.type]})`);
    return worker;
  }

  // ---- RoomLifecycle ----

  onRoomCreated(room: Room): void {
    const configured = room.settings.agents.length > 0 ? room.settings.agents : [{ agentName: '', metadata: '', attributes: {} }];
    for (const agent of configured) {
      const dispatch = this.addDispatch(room, agent);
      void this.launch(room, dispatch, JobType.JT_ROOM);
    }
  }

  onParticipantJoined(room: Room, participant: Participant): void {
    if (participant.isDependent) return;
    for (const record of this.dispatchesOf(room.name)) void this.launch(room, record.dispatch, JobType.JT_PARTICIPANT, participant);
  }

  onFirstPublish(room: Room, participant: Participant): void {
    if (participant.isDependent) return;
    for (const record of this.dispatchesOf(room.name)) void this.launch(room, record.dispatch, JobType.JT_PUBLISHER, participant);
  }

  onRoomClosed(room: Room): void {
    for (const [id, record] of this.jobs) {
      if (record.roomName === room.name && !isEnded(record.job.state?.status)) this.terminate(id);
    }
    for (const [id, record] of this.dispatches) if (record.roomName === room.name) this.dispatches.delete(id);
  }

  // ---- AgentDispatchService ----

  createDispatch(request: CreateAgentDispatchRequest): AgentDispatch {
    // A room created here launches its configured (or default) dispatches too, as in Go.
    const { room } = this.opts.rooms.getOrCreate(request.room);
    const dispatch = this.addDispatch(room, request);
    void this.launch(room, dispatch, JobType.JT_ROOM);
    return dispatch.clone();
  }

  listDispatches(roomName: string, dispatchId = ''): AgentDispatch[] {
    return this.dispatchesOf(roomName)
      .filter((record) => !dispatchId || record.dispatch.id === dispatchId)
      .map((record) => record.dispatch.clone());
  }

  deleteDispatch(roomName: string, dispatchId: string): AgentDispatch | undefined {
    const record = this.dispatches.get(dispatchId);
    if (!record || record.roomName !== roomName) return undefined;
    this.dispatches.delete(dispatchId);
    for (const [id, job] of this.jobs) if (job.job.dispatchId === dispatchId && !isEnded(job.job.state?.status)) this.terminate(id);
    record.dispatch.state ??= new AgentDispatchState();
    record.dispatch.state.deletedAt = nowNs();
    return record.dispatch.clone();
  }

  workerSnapshots(): WorkerSnapshot[] {
    return [...this.workers.values()].map((w) => ({ id: w.id, agentName: w.agentName, type: w.type, status: w.status, load: w.load, jobs: [...w.jobs] }));
  }

  jobSnapshots(): JobSnapshot[] {
    return [...this.jobs.values()].map(({ job, workerId, roomName }) => ({
      id: job.id,
      dispatchId: job.dispatchId,
      type: job.type,
      room: roomName,
      agentName: job.agentName,
      workerId,
      status: job.state?.status ?? JobStatus.JS_PENDING,
      participantIdentity: job.state?.participantIdentity ?? '',
      error: job.state?.error ?? '',
    }));
  }

  close(): void {
    for (const worker of this.workers.values()) worker.ws.terminate();
    this.workers.clear();
  }

  // ---- jobs ----

  private addDispatch(room: Room, agent: DispatchTarget): AgentDispatch {
    const dispatch = newDispatch(room.name, agent);
    this.dispatches.set(dispatch.id, { dispatch, roomName: room.name });
    return dispatch;
  }

  private dispatchesOf(roomName: string): DispatchRecord[] {
    return [...this.dispatches.values()].filter((record) => record.roomName === roomName);
  }

  /** Offers a job to matching workers in turn until one takes it. */
  private async launch(room: Room, dispatch: AgentDispatch, type: JobType, participant?: Participant, only?: Worker[]): Promise<void> {
    if (this.opts.holdDispatch) {
      this.log.info(`agent: ${JobType[type]} dispatch for "${dispatch.agentName}" in ${room.name} held`);
      await this.opts.holdDispatch({ room: room.name, agentName: dispatch.agentName, type });
      if (room.isClosed) return;
      this.log.info(`agent: ${JobType[type]} dispatch for "${dispatch.agentName}" in ${room.name} released`);
    }
    const candidates = (only ?? [...this.workers.values()])
      .filter((w) => w.agentName === dispatch.agentName && w.type === type && w.status === WorkerStatus.WS_AVAILABLE)
      .sort((a, b) => a.load - b.load);
    if (candidates.length === 0) {
      // Unnamed JT_ROOM dispatches with no worker are the normal case for rooms without agents.
      this.log.debug(`agent: no worker for "${dispatch.agentName}" ${JobType[type]} in ${room.name}`);
      return;
    }
    const job = new Job({
      id: newSid('AJ_'),
      dispatchId: dispatch.id,
      type,
      room: room.info(),
      ...(participant ? { participant: participant.info() } : {}),
      metadata: dispatch.metadata,
      agentName: dispatch.agentName,
      attributes: { ...dispatch.attributes },
      state: new JobState({ status: JobStatus.JS_PENDING, updatedAt: nowNs() }),
    });
    for (const worker of candidates) {
      if (worker.ws.readyState !== WebSocket.OPEN) continue;
      job.namespace = worker.namespace;
      const response = await this.askAvailability(worker, job);
      if (room.isClosed) return;
      if (!response) {
        this.log.warn(`agent: worker ${worker.id} did not answer availability for ${job.id}`);
        continue;
      }
      if (response.terminate) return;
      if (!response.available) {
        this.log.info(`agent: worker ${worker.id} declined ${job.id}`);
        continue;
      }
      await this.assign(worker, job, room, response);
      return;
    }
    this.log.warn(`agent: no worker took ${JobType[type]} job for "${dispatch.agentName}" in ${room.name}`);
  }

  private askAvailability(worker: Worker, job: Job): Promise<AvailabilityResponse | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), AVAILABILITY_TIMEOUT_MS);
      timer.unref();
      const finish = (response: AvailabilityResponse | undefined) => {
        clearTimeout(timer);
        worker.pendingAvailability.delete(job.id);
        resolve(response);
      };
      worker.pendingAvailability.set(job.id, finish);
      sendTo(worker, { case: 'availability', value: new AvailabilityRequest({ job }) });
    });
  }

  private async assign(worker: Worker, job: Job, room: Room, response: AvailabilityResponse): Promise<void> {
    const identity = response.participantIdentity || `agent-${job.id}`;
    const now = nowNs();
    job.state = new JobState({ status: JobStatus.JS_RUNNING, startedAt: now, updatedAt: now, participantIdentity: identity, workerId: worker.id });
    const token = new AccessToken(this.opts.apiKey, this.opts.apiSecret, {
      identity,
      name: response.participantName,
      metadata: response.participantMetadata,
      attributes: { ...response.participantAttributes, [AGENT_NAME_ATTRIBUTE]: worker.agentName },
      ttl: '1h',
    });
    token.kind = 'agent' as never;
    const p = worker.permissions;
    token.addGrant({
      roomJoin: true,
      agent: true,
      room: room.name,
      canSubscribe: p.canSubscribe,
      canPublish: p.canPublish,
      canPublishData: p.canPublishData,
      canUpdateOwnMetadata: p.canUpdateMetadata,
      hidden: p.hidden,
    });
    this.jobs.set(job.id, { job, workerId: worker.id, roomName: room.name });
    worker.jobs.add(job.id);
    // An empty url tells the worker to join through the url it registered with.
    sendTo(worker, { case: 'assignment', value: new JobAssignment({ job, token: await token.toJwt(), url: '' }) });
    this.log.info(`agent: ${JobType[job.type]} job ${job.id} in ${room.name} assigned to ${worker.id} as ${identity}`);
  }

  private updateJob(jobId: string, status: JobStatus, error: string): void {
    const record = this.jobs.get(jobId);
    if (!record) return;
    const state = (record.job.state ??= new JobState());
    state.status = status;
    state.error = error;
    state.updatedAt = nowNs();
    if (isEnded(status)) state.endedAt = state.updatedAt;
    this.log.info(`agent: job ${jobId} is ${JobStatus[status]}${error ? ` (${error})` : ''}`);
  }

  private terminate(jobId: string): void {
    const record = this.jobs.get(jobId);
    const worker = record ? this.workers.get(record.workerId) : undefined;
    if (!record || !worker) return;
    sendTo(worker, { case: 'termination', value: new JobTermination({ jobId }) });
    worker.jobs.delete(jobId);
    this.log.info(`agent: job ${jobId} terminated`);
  }
}

interface DispatchTarget {
  agentName: string;
  metadata: string;
  attributes: Record<string, string>;
}

function newDispatch(roomName: string, agent: DispatchTarget): AgentDispatch {
  return new AgentDispatch({
    id: newSid('AD_'),
    agentName: agent.agentName,
    room: roomName,
    metadata: agent.metadata,
    attributes: { ...agent.attributes },
    state: new AgentDispatchState({ createdAt: nowNs() }),
  });
}

function sendTo(worker: Worker, message: ServerMessage['message']): void {
  if (worker.ws.readyState === WebSocket.OPEN) worker.ws.send(new ServerMessage({ message }).toBinary());
}

function isEnded(status: JobStatus | undefined): boolean {
  return status === JobStatus.JS_SUCCESS || status === JobStatus.JS_FAILED;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

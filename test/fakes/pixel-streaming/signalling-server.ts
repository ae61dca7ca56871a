/**
 * A minimal Pixel Streaming signalling server for tests (Epic's SignallingWebServer is not on
 * npm). It implements the message routing of Epic's PixelStreamingInfrastructure
 * (Signalling/src: StreamerConnection, PlayerConnection, the registries), protocol 1.x:
 * - every connection gets `config` {peerConnectionOptions, protocolVersion} first;
 * - streamers get `identify`, answer `endpointId`, and are confirmed (`endpointIdConfirm`);
 *   from then on they are "streaming" and listed;
 * - players: `listStreamers` → `streamerList`; `subscribe` → `playerConnected` to the streamer
 *   (or `subscribeFailed`); `offer`/`answer`/`iceCandidate` are forwarded with the player's id
 *   added; `ping` → `pong`; closing → `playerDisconnected` to the streamer;
 * - a streamer that goes away ends its players' connections (Epic's current behaviour), or, with
 *   `onStreamerLeave: 'notify'`, sends them `streamerDisconnected` (older Cirrus).
 * Two ports, as Epic's server: streamers (8888 by default there) and players (80 there).
 * Knobs: faults on player connections (refuse, hang, drop), stop()/restart() on the same ports.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { KnobStore, type FaultKnobs } from '../knobs.js';
import { refuseUpgrade } from '../net.js';

export const SIGNALLING_PROTOCOL_VERSION = '1.3.0';

/** Fields each message may carry (signalling_messages.proto); anything else is a protocol violation. */
const FIELDS: Record<string, { required: string[]; optional: string[] }> = {
  listStreamers: { required: [], optional: [] },
  subscribe: { required: ['streamerId'], optional: [] },
  unsubscribe: { required: [], optional: [] },
  offer: { required: ['sdp'], optional: ['playerId', 'sfu', 'multiplex', 'scalabilityMode'] },
  answer: { required: ['sdp'], optional: ['playerId', 'minBitrateBps', 'maxBitrateBps'] },
  iceCandidate: { required: ['candidate'], optional: ['playerId'] },
  ping: { required: ['time'], optional: [] },
  pong: { required: ['time'], optional: [] },
  endpointId: { required: ['id'], optional: ['protocolVersion'] },
  disconnectPlayer: { required: ['playerId'], optional: ['reason'] },
  dataChannelRequest: { required: [], optional: [] },
  peerDataChannelsReady: { required: [], optional: [] },
  layerPreference: { required: ['spatialLayer', 'temporalLayer', 'playerId'], optional: [] },
};

export interface SignallingOptions {
  /** Sent in `config` (Epic passes it to RTCPeerConnection as is). */
  peerConnectionOptions?: Record<string, unknown>;
  onStreamerLeave?: 'close' | 'notify';
}

export interface LoggedMessage {
  from: 'player' | 'streamer';
  id: string;
  message: Record<string, unknown>;
  at: number;
}

interface StreamerEntry {
  ws: WebSocket;
  id: string;
  streaming: boolean;
  subscribers: Set<string>;
}

interface PlayerEntry {
  ws: WebSocket;
  id: string;
  streamer: StreamerEntry | undefined;
}

export class FakeSignallingServer {
  /** Faults applied to new player connections: http500 (refused), hang (never upgraded), drop (closed after config). */
  readonly playerKnobs = new KnobStore<FaultKnobs>({});
  readonly log: LoggedMessage[] = [];
  /** Messages whose fields do not match the protocol (a test asserts there are none). */
  readonly violations: string[] = [];
  private streamers: StreamerEntry[] = [];
  private players = new Map<string, PlayerEntry>();
  private nextPlayer = 0;
  private servers: { http: Server; wss: WebSocketServer; sockets: Set<Socket> }[] = [];
  private ports: { streamer: number; player: number } = { streamer: 0, player: 0 };

  private constructor(private readonly opts: SignallingOptions) {}

  static async start(opts: SignallingOptions = {}): Promise<FakeSignallingServer> {
    const server = new FakeSignallingServer(opts);
    await server.listen();
    return server;
  }

  /** Where Unreal connects (-PixelStreamingURL). */
  get streamerUrl(): string {
    return `ws://127.0.0.1:${this.ports.streamer}`;
  }

  /** Where players (the worker) connect: the profile's signallingUrl. */
  get playerUrl(): string {
    return `ws://127.0.0.1:${this.ports.player}`;
  }

  get streamerIds(): string[] {
    return this.streamers.filter((s) => s.streaming).map((s) => s.id);
  }

  get playerCount(): number {
    return this.players.size;
  }

  /** Messages of one type, in order. */
  messages(type: string, from?: 'player' | 'streamer'): LoggedMessage[] {
    return this.log.filter((m) => m.message.type === type && (!from || m.from === from));
  }

  /** "Signalling down": closes both ports and every connection. restart() listens again on the same ports. */
  async stop(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            for (const ws of s.wss.clients) ws.terminate();
            s.wss.close();
            for (const socket of s.sockets) socket.destroy();
            s.http.close(() => resolve());
          }),
      ),
    );
    this.streamers = [];
    this.players.clear();
  }

  async restart(): Promise<void> {
    if (this.servers.length) return;
    await this.listen(this.ports);
  }

  close(): Promise<void> {
    return this.stop();
  }

  private async listen(ports?: { streamer: number; player: number }): Promise<void> {
    const streamer = await this.serve(ports?.streamer ?? 0, (ws) => this.onStreamer(ws));
    const player = await this.serve(ports?.player ?? 0, (ws) => this.onPlayer(ws), (req, socket, head, accept) => {
      const fault = this.playerKnobs.takeFault();
      if (fault === 'http500') return refuseUpgrade(socket, 500, { error: 'signalling server unavailable' });
      if (fault === 'hang') return;
      accept((ws) => {
        if (fault === 'drop') {
          this.sendConfig(ws);
          setTimeout(() => ws.terminate(), 20);
          return;
        }
        this.onPlayer(ws);
      });
      void req;
      void head;
    });
    this.ports = { streamer, player };
  }

  private async serve(
    port: number,
    onConnection: (ws: WebSocket) => void,
    gate?: (req: IncomingMessage, socket: Duplex, head: Buffer, accept: (then: (ws: WebSocket) => void) => void) => void,
  ): Promise<number> {
    const sockets = new Set<Socket>();
    const http = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    http.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      const accept = (then: (ws: WebSocket) => void) => wss.handleUpgrade(req, socket, head, then);
      if (gate) gate(req, socket, head, accept);
      else accept(onConnection);
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    this.servers.push({ http, wss, sockets });
    return (http.address() as AddressInfo).port;
  }

  private sendConfig(ws: WebSocket): void {
    send(ws, { type: 'config', peerConnectionOptions: this.opts.peerConnectionOptions ?? {}, protocolVersion: SIGNALLING_PROTOCOL_VERSION });
  }

  private onStreamer(ws: WebSocket): void {
    const entry: StreamerEntry = { ws, id: this.uniqueStreamerId('UnknownStreamer'), streaming: false, subscribers: new Set() };
    this.streamers.push(entry);
    this.sendConfig(ws);
    send(ws, { type: 'identify' });
    ws.on('message', (data) => {
      const message = this.parse(data.toString(), 'streamer', entry.id);
      if (!message) return;
      switch (message.type) {
        case 'endpointId': {
          const wanted = String(message.id ?? '');
          entry.id = wanted === entry.id ? wanted : this.uniqueStreamerId(wanted || 'UnknownStreamer', entry);
          entry.streaming = true;
          send(ws, { type: 'endpointIdConfirm', committedId: entry.id });
          break;
        }
        case 'ping':
          send(ws, { type: 'pong', time: message.time });
          break;
        case 'offer':
        case 'answer':
        case 'iceCandidate': {
          const player = this.players.get(String(message.playerId ?? ''));
          if (player) send(player.ws, message);
          break;
        }
        case 'disconnectPlayer': {
          const player = this.players.get(String(message.playerId ?? ''));
          player?.ws.close(1011, typeof message.reason === 'string' ? message.reason : undefined);
          break;
        }
      }
    });
    ws.on('close', () => {
      this.streamers = this.streamers.filter((s) => s !== entry);
      for (const playerId of entry.subscribers) {
        const player = this.players.get(playerId);
        if (!player) continue;
        player.streamer = undefined;
        if (this.opts.onStreamerLeave === 'notify') send(player.ws, { type: 'streamerDisconnected' });
        else player.ws.close(1000, 'streamer disconnected');
      }
    });
  }

  private onPlayer(ws: WebSocket): void {
    const entry: PlayerEntry = { ws, id: `Player${this.nextPlayer++}`, streamer: undefined };
    this.players.set(entry.id, entry);
    this.sendConfig(ws);
    ws.on('message', (data) => {
      const message = this.parse(data.toString(), 'player', entry.id);
      if (!message) return;
      switch (message.type) {
        case 'listStreamers':
          send(ws, { type: 'streamerList', ids: this.streamerIds });
          break;
        case 'subscribe':
          this.subscribe(entry, String(message.streamerId));
          break;
        case 'unsubscribe':
          this.unsubscribe(entry);
          break;
        case 'ping':
          send(ws, { type: 'pong', time: message.time });
          break;
        case 'offer':
        case 'answer':
        case 'iceCandidate':
        case 'dataChannelRequest':
        case 'peerDataChannelsReady':
        case 'layerPreference':
          if (entry.streamer) send(entry.streamer.ws, { ...message, playerId: entry.id });
          break;
      }
    });
    ws.on('close', () => {
      this.unsubscribe(entry);
      this.players.delete(entry.id);
    });
  }

  private subscribe(player: PlayerEntry, streamerId: string): void {
    const streamer = this.streamers.find((s) => s.id === streamerId);
    if (!streamer) {
      send(player.ws, { type: 'subscribeFailed', message: `Streamer ${streamerId} does not exist.` });
      return;
    }
    if (player.streamer) this.unsubscribe(player);
    player.streamer = streamer;
    streamer.subscribers.add(player.id);
    send(streamer.ws, { type: 'playerConnected', playerId: player.id, dataChannel: true, sfu: false });
  }

  private unsubscribe(player: PlayerEntry): void {
    const streamer = player.streamer;
    if (!streamer) return;
    streamer.subscribers.delete(player.id);
    send(streamer.ws, { type: 'playerDisconnected', playerId: player.id });
    player.streamer = undefined;
  }

  private parse(text: string, from: 'player' | 'streamer', id: string): Record<string, unknown> | undefined {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.violations.push(`${from} ${id} sent text that is not JSON`);
      return undefined;
    }
    this.log.push({ from, id, message, at: Date.now() });
    const type = String(message.type ?? '');
    const fields = FIELDS[type];
    if (!fields) {
      this.violations.push(`${from} ${id} sent an unknown message type "${type}"`);
      return message;
    }
    for (const f of fields.required) if (!(f in message)) this.violations.push(`${from} ${id}: ${type} lacks ${f}`);
    for (const f of Object.keys(message)) {
      if (f !== 'type' && !fields.required.includes(f) && !fields.optional.includes(f)) this.violations.push(`${from} ${id}: ${type} has unknown field ${f}`);
    }
    return message;
  }

  /** Epic's StreamerRegistry: a taken id gets a number appended. */
  private uniqueStreamerId(id: string, self?: StreamerEntry): string {
    const taken = new Set(this.streamers.filter((s) => s !== self).map((s) => s.id));
    if (!taken.has(id)) return id;
    let n = 1;
    while (taken.has(`${id}${n}`)) n++;
    return `${id}${n}`;
  }
}

function send(ws: WebSocket, message: Record<string, unknown>): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

/**
 * `GET /v1/events`: the node's `member` and `leader` events as Server-Sent Events.
 *
 * Each client has a bounded send buffer (`sseClientBufferBytesMax`, the bytes Node has queued
 * for the socket but not yet written). A client that reads slower than events arrive is
 * dropped once its buffer would pass the bound, and counted, so a slow or stuck reader costs
 * the agent at most that many bytes, never unbounded memory. The number of concurrent clients
 * is bounded too (`sseClientsMax`); one over it is refused with 503.
 */
import type { ServerResponse } from 'node:http';
import type { LeaderEvent, MemberEvent } from '../node/events.js';
import type { AgentNode } from './agent-node.js';

/** @defaultValue 1 MiB: about 2,000 member events of a typical size. */
export const SSE_CLIENT_BUFFER_BYTES_MAX = 1 << 20;
/** @defaultValue 64 concurrent event streams per agent. */
export const SSE_CLIENTS_MAX = 64;
/** A comment line every so often keeps proxies and idle timeouts from closing a quiet stream. */
export const SSE_HEARTBEAT_MS = 15_000;

export interface SseOptions {
  sseClientBufferBytesMax?: number;
  sseClientsMax?: number;
}

export interface SseCounters {
  clients: number;
  /** Clients dropped because their send buffer passed the bound. */
  droppedSlow: number;
  /** Clients refused because `sseClientsMax` were connected. */
  refused: number;
}

/** Formats one SSE message; `data` is a single JSON line, so it never needs splitting. */
export function formatSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly bufferBytesMax: number;
  private readonly clientsMax: number;
  private readonly heartbeat: NodeJS.Timeout;
  private droppedSlow = 0;
  private refused = 0;
  private readonly onMember = (e: MemberEvent): void =>
    this.broadcast(formatSse('member', { type: e.type, member: e.member }));
  private readonly onLeader = (e: LeaderEvent): void =>
    this.broadcast(formatSse('leader', { leader: e.leader ?? null, term: e.term }));

  constructor(
    private readonly node: AgentNode,
    options: SseOptions = {},
  ) {
    this.bufferBytesMax = options.sseClientBufferBytesMax ?? SSE_CLIENT_BUFFER_BYTES_MAX;
    this.clientsMax = options.sseClientsMax ?? SSE_CLIENTS_MAX;
    node.on('member', this.onMember);
    node.on('leader', this.onLeader);
    this.heartbeat = setInterval(() => this.broadcast(': ping\n\n'), SSE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  counters(): SseCounters {
    return { clients: this.clients.size, droppedSlow: this.droppedSlow, refused: this.refused };
  }

  /** Takes over a response as an event stream; false (nothing written) when full. */
  attach(res: ServerResponse): boolean {
    if (this.clients.size >= this.clientsMax) {
      this.refused++;
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  private broadcast(chunk: string): void {
    const bytes = Buffer.byteLength(chunk);
    for (const res of this.clients) {
      if (res.writableLength + bytes > this.bufferBytesMax) {
        this.clients.delete(res);
        this.droppedSlow++;
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
  }

  /** Ends every stream and stops listening to the node. */
  close(): void {
    clearInterval(this.heartbeat);
    this.node.off('member', this.onMember as (e: never) => void);
    this.node.off('leader', this.onLeader as (e: never) => void);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

/**
 * Read-only access to "the cluster" for `shoal demo`: each request goes to a running agent,
 * the one that answered last first, and fails over to the next when one is killed, paused or
 * slow. The event stream is relayed the same way; when its agent is killed or paused the relay
 * ends, and the browser's EventSource reconnects (to another agent) after SSE_RETRY_MS.
 *
 * Bounds: AGENT_REQUEST_TIMEOUT_MS per attempt, one attempt per running agent, at most
 * EVENT_STREAMS_MAX relayed streams at once.
 */
import type { ServerResponse } from 'node:http';
import type { DemoCluster, DemoNodeInfo } from './demo-cluster.js';

export const AGENT_REQUEST_TIMEOUT_MS = 1_500;
export const EVENT_STREAMS_MAX = 64;
/** Sent to browsers as the SSE `retry:` field: how soon EventSource reconnects after a relay ends. */
export const SSE_RETRY_MS = 1_000;

export interface AgentAnswer {
  node: string;
  status: number;
  contentType: string;
  body: string;
}

interface Relay {
  node: string;
  controller: AbortController;
}

export class DemoProxy {
  private preferred: string | undefined;
  private readonly relays = new Set<Relay>();

  constructor(private readonly cluster: DemoCluster) {}

  get relayCount(): number {
    return this.relays.size;
  }

  /** GET `path` from the first running agent that answers; undefined when none does. */
  async get(path: string): Promise<AgentAnswer | undefined> {
    for (const node of this.targets()) {
      try {
        const res = await fetch(`http://${node.http}${path}`, {
          signal: AbortSignal.timeout(AGENT_REQUEST_TIMEOUT_MS),
        });
        const body = await res.text();
        this.preferred = node.name;
        return {
          node: node.name,
          status: res.status,
          contentType: res.headers.get('content-type') ?? 'application/json',
          body,
        };
      } catch {
        // This agent is down, paused or slow: try the next one.
      }
    }
    return undefined;
  }

  /** Parses a JSON answer; undefined when no agent answered or the answer is not 2xx JSON. */
  async getJson(path: string): Promise<unknown> {
    const answer = await this.get(path);
    if (answer === undefined || answer.status < 200 || answer.status > 299) return undefined;
    try {
      return JSON.parse(answer.body) as unknown;
    } catch {
      return undefined;
    }
  }

  /**
   * Relays an agent's `/v1/events` stream to `out` until the agent goes away, the browser leaves
   * (`closed` fires) or `closeAll` runs. Resolves false, writing nothing, when no agent accepted.
   */
  async relayEvents(out: ServerResponse, closed: AbortSignal): Promise<boolean> {
    if (this.relays.size >= EVENT_STREAMS_MAX) return false;
    for (const node of this.targets()) {
      const relay: Relay = { node: node.name, controller: new AbortController() };
      const onClose = (): void => relay.controller.abort();
      closed.addEventListener('abort', onClose, { once: true });
      const body = await this.openStream(node, relay.controller);
      if (body === undefined) {
        closed.removeEventListener('abort', onClose);
        continue;
      }
      this.relays.add(relay);
      out.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-shoal-node': node.name,
      });
      out.write(`retry: ${SSE_RETRY_MS}\n\n`);
      void this.pump(body, out, relay).finally(() => closed.removeEventListener('abort', onClose));
      return true;
    }
    return false;
  }

  /** Ends the relays that read from `name` (it was killed or paused), so browsers reconnect elsewhere. */
  dropNode(name: string): void {
    for (const relay of this.relays) if (relay.node === name) relay.controller.abort();
    if (this.preferred === name) this.preferred = undefined;
  }

  closeAll(): void {
    for (const relay of this.relays) relay.controller.abort();
  }

  /** Running agents that serve the cluster's read endpoints (a tier's workers do not). */
  private targets(): DemoNodeInfo[] {
    const running = this.cluster.running().filter((n) => n.role !== 'worker');
    return [
      ...running.filter((n) => n.name === this.preferred),
      ...running.filter((n) => n.name !== this.preferred),
    ];
  }

  private async openStream(
    node: DemoNodeInfo,
    controller: AbortController,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    const timer = setTimeout(() => controller.abort(), AGENT_REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(`http://${node.http}/v1/events`, {
        signal: controller.signal,
        headers: { accept: 'text/event-stream' },
      });
      if (!res.ok || res.body === null) {
        controller.abort();
        return undefined;
      }
      return res.body;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private async pump(
    body: ReadableStream<Uint8Array>,
    out: ServerResponse,
    relay: Relay,
  ): Promise<void> {
    try {
      for await (const chunk of body) {
        if (out.destroyed) break;
        out.write(chunk);
      }
    } catch {
      // The agent went away or the relay was aborted: end the browser's stream below.
    } finally {
      relay.controller.abort();
      this.relays.delete(relay);
      out.end();
    }
  }
}

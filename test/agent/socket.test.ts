/**
 * The agent's HTTP API over a real loopback socket: JSON answers, the SSE stream delivering a
 * member event when another node joins, a slow SSE client dropped at its buffer bound while the
 * agent keeps serving, the client limit, and port-in-use as ERR_HTTP_LISTEN.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startAgentServer, type AgentServer } from '../../src/agent/server.js';
import type { ShoalNode } from '../../src/node/node.js';
import { waitFor } from '../helpers/wait.js';
import { ScriptedNode, closeAll, startNode } from './nodes.js';

const servers: AgentServer[] = [];
const sockets: Socket[] = [];

async function serve(
  node: Parameters<typeof startAgentServer>[0],
  options: Parameters<typeof startAgentServer>[1] = {},
): Promise<AgentServer> {
  const server = await startAgentServer(node, { http: '127.0.0.1:0', ...options });
  servers.push(server);
  return server;
}

/** Opens a raw event-stream request and never reads from it: the slowest possible client. */
function stuckClient(address: string): Promise<Socket> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => {
      socket.write(`GET /v1/events HTTP/1.1\r\nHost: ${address}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
    sockets.push(socket);
  });
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(closeAll);

describe('agent HTTP API over a socket', () => {
  it('answers members over HTTP and streams a member event when another node joins', async () => {
    const node: ShoalNode = await startNode('sock-a');
    const server = await serve(node);
    const members = (await (await fetch(`http://${server.address}/v1/members`)).json()) as {
      members: Array<{ name: string }>;
    };
    expect(members.members.map((m) => m.name)).toEqual(['sock-a']);

    const abort = new AbortController();
    const res = await fetch(`http://${server.address}/v1/events`, { signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await startNode('sock-b', [node.address]);
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!/event: member\ndata: \{"type":"joined","member":\{[^\n]*"name":"sock-b"/.test(text)) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<undefined>((r) =>
          setTimeout(() => r(undefined), Math.max(0, deadline - Date.now())),
        ),
      ]);
      if (chunk === undefined || chunk.done)
        throw new Error(`no joined event for sock-b within 10 s; got: ${text}`);
      text += new TextDecoder().decode(chunk.value);
    }
    abort.abort();
    expect(text).toContain('retry: 2000');
  });

  it('streams leader events with a null leader as JSON null', async () => {
    const node = new ScriptedNode();
    const server = await serve(node.asAgentNode());
    const abort = new AbortController();
    const reader = (
      (await fetch(`http://${server.address}/v1/events`, { signal: abort.signal }))
        .body as ReadableStream<Uint8Array>
    ).getReader();
    node.emit('leader', { kind: 'leader', leader: undefined, term: 3 });
    let text = '';
    for (let i = 0; i < 20 && !text.includes('event: leader'); i++) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    abort.abort();
    expect(text).toContain('event: leader\ndata: {"leader":null,"term":3}\n\n');
  });

  it('drops a stuck SSE client at its buffer bound and keeps serving others', async () => {
    const node = new ScriptedNode();
    const server = await serve(node.asAgentNode(), { sseClientBufferBytesMax: 64 * 1024 });
    const stuck = await stuckClient(server.address);
    const stats = async (): Promise<{ sse: { clients: number; droppedSlow: number } }> =>
      (await (await fetch(`http://${server.address}/v1/stats`)).json()) as {
        sse: { clients: number; droppedSlow: number };
      };
    let clients = 0;
    for (let i = 0; i < 50 && clients === 0; i++) clients = (await stats()).sse.clients;
    expect(clients).toBe(1);

    const big = {
      kind: 'member' as const,
      type: 'updated' as const,
      member: { ...node.members()[0]!, labels: { blob: 'x'.repeat(8 * 1024) } },
    };
    let dropped = 0;
    // Bounded: at most 4,000 events of ~8 KiB (32 MiB), far past any loopback socket buffer.
    for (let batch = 0; batch < 200 && dropped === 0; batch++) {
      for (let i = 0; i < 20; i++) node.emitMember(big);
      await new Promise((resolve) => setImmediate(resolve));
      dropped = (await stats()).sse.droppedSlow;
    }
    expect(dropped).toBe(1);
    expect((await stats()).sse.clients).toBe(0);
    const metrics = await (await fetch(`http://${server.address}/metrics`)).text();
    expect(metrics).toContain('shoal_sse_clients_dropped_total{reason="slow"} 1');
    // The agent closed its side: once the client reads again it drains and sees the end.
    let closed = false;
    stuck.on('close', () => (closed = true));
    stuck.resume();
    await waitFor(() => closed, 10_000, 'the dropped client sees its connection closed');
  });

  it('refuses event streams over the client limit with 503', async () => {
    const node = new ScriptedNode();
    const server = await serve(node.asAgentNode(), { sseClientsMax: 1 });
    await stuckClient(server.address);
    let status = 0;
    for (let i = 0; i < 50 && status !== 503; i++)
      status = (await fetch(`http://${server.address}/v1/events`)).status;
    expect(status).toBe(503);
  });

  it('reports a port in use as ERR_HTTP_LISTEN naming the address', async () => {
    const node = new ScriptedNode();
    const first = await serve(node.asAgentNode());
    await expect(
      startAgentServer(node.asAgentNode(), { http: first.address }),
    ).rejects.toMatchObject({
      code: 'ERR_HTTP_LISTEN',
      message: expect.stringContaining(
        `cannot listen on ${first.address} for the HTTP API (EADDRINUSE)`,
      ),
    });
  });
});

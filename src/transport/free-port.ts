/**
 * Free ports for `shoal demo`, the benches and the loopback tests. The OS picks a port (listen on
 * 0); for a cluster port we also check that UDP can bind the same number, since a node's cluster
 * address serves UDP and TCP on one port. There is a window between this check and the node's
 * own bind (another process's outgoing connection can take the port); it is milliseconds, where
 * a fixed port band collides with the ephemeral range for the whole run.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Attempts to find a port before giving up (each attempt is one listen and, for UDP, one bind). */
export const PORT_ATTEMPTS_MAX = 50;

function tcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** A free TCP port on `host` (and free for UDP too when `udp`), not in `taken`; adds it to `taken`. */
export async function allocatePort(
  host: string,
  taken: Set<number>,
  udp: boolean,
): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS_MAX; attempt++) {
    const port = await tcpPort(host);
    if (port === 0 || taken.has(port)) continue;
    if (udp && !(await udpFree(host, port))) continue;
    taken.add(port);
    return port;
  }
  throw new Error(`no free port on ${host} after ${PORT_ATTEMPTS_MAX} attempts`);
}

/** `count` distinct `host:port` cluster addresses, each free for TCP and UDP right now. */
export async function freeClusterAddresses(count: number, host = '127.0.0.1'): Promise<string[]> {
  const taken = new Set<number>();
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`${host}:${await allocatePort(host, taken, true)}`);
  return out;
}

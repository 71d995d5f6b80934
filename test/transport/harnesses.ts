/**
 * Harness factories for the compliance suite: real sockets on loopback, the memory transport
 * over the pumped test fabric, and the encryption decorator over either.
 */
import { createServer } from 'node:net';
import type { Address } from '../../src/base/address.js';
import { EncryptedTransport } from '../../src/transport/encrypted.js';
import { Keyring } from '../../src/transport/keyring.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { NetTransport, type NetTransportOptions } from '../../src/transport/net.js';
import type { Transport } from '../../src/transport/types.js';
import type { HarnessFactory, TransportHarness } from './compliance.js';
import { QueueFabric } from './test-fabric.js';

/** Fast retry settings so unreachable peers are given up on within a test's bound. */
export const TEST_NET_OPTIONS: NetTransportOptions = {
  reconnectBackoffMinMs: 5,
  reconnectBackoffMaxMs: 40,
  reconnectAttemptsMax: 3,
};

/** Polls `condition` every few ms until it holds or `timeoutMs` passes. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A loopback address with a port nothing listens on right now (bound, then released). */
export async function freeAddress(host: string): Promise<Address> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) as Address;
}

export function netHarness(
  host: string,
  options: NetTransportOptions = TEST_NET_OPTIONS,
): HarnessFactory {
  return async (count) => {
    const transports: Transport[] = [];
    for (let i = 0; i < count; i++)
      transports.push(
        await NetTransport.bind(`${host.includes(':') ? `[${host}]` : host}:0`, options),
      );
    return {
      transports,
      waitFor: waitUntil,
      unreachableAddress: await freeAddress(host),
      unreachableFrameDrop: 'unreachable',
      restart: async (index) => {
        const old = transports[index] as Transport;
        await old.close();
        transports[index] = await NetTransport.bind(old.localAddress, options);
        return transports[index] as Transport;
      },
      close: async () => {
        await Promise.all(transports.map((t) => t.close()));
      },
    };
  };
}

export function memoryHarness(): HarnessFactory {
  return (count) => {
    const fabric = new QueueFabric();
    const transports: Transport[] = [];
    for (let i = 0; i < count; i++)
      transports.push(new MemoryTransport(fabric, `10.0.0.${i + 1}:7946` as Address));
    const harness: TransportHarness = {
      transports,
      waitFor: (condition, what) =>
        fabric.pumpUntil(condition)
          ? Promise.resolve()
          : Promise.reject(new Error(`fabric ran dry before ${what}`)),
      unreachableAddress: '10.0.0.250:7946' as Address,
      close: async () => {
        await Promise.all(transports.map((t) => t.close()));
      },
    };
    return Promise.resolve(harness);
  };
}

/** Wraps every transport of `inner` (including restarted ones) in encryption with `keys`. */
export function encryptedHarness(inner: HarnessFactory, keys: readonly string[]): HarnessFactory {
  const wrap = (t: Transport): Transport => new EncryptedTransport(t, Keyring.parse(keys));
  return async (count) => {
    const base = await inner(count);
    const transports = base.transports.map(wrap);
    const restart = base.restart;
    const harness: TransportHarness = {
      ...base,
      transports,
      close: async () => {
        await Promise.all(transports.map((t) => t.close()));
        await base.close();
      },
    };
    if (restart !== undefined) {
      harness.restart = async (index) => {
        await (transports[index] as Transport).close();
        transports[index] = wrap(await restart(index));
        return transports[index] as Transport;
      };
    }
    return harness;
  };
}

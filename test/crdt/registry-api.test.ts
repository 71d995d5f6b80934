/**
 * `node.services` and `node.processes` as the registry API presents them (INTERFACE.md, "Data
 * plane"): defaults, the values a node sees right after its own write, and bad arguments refused
 * with ERR_INVALID_ARGUMENT naming the field while nothing changes.
 */
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import { ms } from '../../src/base/time.js';
import { ProcessesApi, ServicesApi, type RegistryPort } from '../../src/crdt/registry/api.js';
import { registryConfig } from '../../src/crdt/registry/config.js';
import { REGISTRY_CORE } from '../../src/crdt/registry/protocol.js';
import { nodeIdOf, securityOf } from '../../src/sim/registry-cluster.js';

const SELF = nodeIdOf(0);

function port(): RegistryPort {
  const rng = new Rng(1);
  const state = REGISTRY_CORE.init(
    { config: registryConfig('simMin'), selfId: SELF, wallOffsetMs: 1e12, security: securityOf(0) },
    undefined,
    { now: ms(1000), rng },
  );
  return {
    state,
    write: (write) =>
      void REGISTRY_CORE.step(state, { kind: 'local', now: ms(1001), write }, { rng }),
  };
}

function refused(fn: () => unknown, field: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(hasErrorCode(caught, 'ERR_INVALID_ARGUMENT'), String(caught)).toBe(true);
  expect(String((caught as Error).message)).toMatch(field);
}

describe('registry API', () => {
  it('services: advertise with defaults, list, resolve, withdraw', () => {
    const p = port();
    const services = new ServicesApi(p);
    services.advertise({ name: 'api', address: '10.0.0.5:8080' });
    expect(services.list('api')).toEqual([
      { name: 'api', node: SELF, address: '10.0.0.5:8080', tags: [], weight: 1 },
    ]);
    expect(services.resolve('api')?.node).toBe(SELF);
    expect(
      services.resolve('api', { prefer: nodeIdOf(7) })?.node,
      'falls back from an unknown node',
    ).toBe(SELF);
    services.withdraw('api');
    expect(services.list()).toEqual([]);
    expect(services.resolve('api')).toBeUndefined();
  });

  it('services: bad arguments are refused and change nothing', () => {
    const p = port();
    const services = new ServicesApi(p);
    refused(() => services.advertise(null as never), /must be an object/);
    refused(() => services.advertise({ name: 3 as never, address: 'a' }), /service name/);
    refused(
      () => services.advertise({ name: 'a', address: 'a', tags: [1 as never] }),
      /service tags/,
    );
    refused(() => services.advertise({ name: 'a', address: 'a', weight: -2 }), /service weight/);
    refused(() => services.advertise({ name: 'a'.repeat(300), address: 'a' }), /fieldBytesMax/);
    refused(() => services.resolve('a', { prefer: 'not-an-id' as never }), /NodeId/);
    expect(p.state.partitions.get(SELF)?.seq).toBe(0);
    expect(p.state.counters.localRefused).toBe(0);
  });

  it('processes: advertise with defaults, finders, least-loaded node, withdraw', () => {
    const p = port();
    const processes = new ProcessesApi(p);
    processes.advertise({ pid: 'p1', type: 'worker', capabilities: ['gpu', 'gpu'], load: 0.3 });
    expect(processes.findByType('worker')).toEqual([
      {
        pid: 'p1',
        node: SELF,
        type: 'worker',
        capabilities: ['gpu'],
        status: 'running',
        load: 0.3,
      },
    ]);
    expect(processes.findByCapability('gpu')).toHaveLength(1);
    expect(processes.leastLoadedNode({ type: 'worker' })).toBe(SELF);
    processes.advertise({ pid: 'p1', type: 'worker', status: 'stopping' });
    expect(
      processes.leastLoadedNode({ type: 'worker' }),
      'only running processes count',
    ).toBeUndefined();
    refused(
      () => processes.advertise({ pid: 'p2', type: 'w', load: Number.POSITIVE_INFINITY }),
      /process load/,
    );
    refused(
      () => processes.advertise({ pid: 'p2', type: 'w', status: 5 as never }),
      /process status/,
    );
    processes.withdraw('p1');
    expect(processes.list()).toEqual([]);
  });
});

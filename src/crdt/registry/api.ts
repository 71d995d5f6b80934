/**
 * The synchronous public surface of the registry (INTERFACE.md, "Data plane"): `node.services`
 * and `node.processes` over a running registry core, so the wiring only supplies a port (the
 * driver's state and a way to step a local write). Arguments are checked here and refused with
 * ERR_INVALID_ARGUMENT naming the field; a refused call changes nothing. `services.watch` (an
 * async iterator over the core's `changed` effects) is the wiring's, outside the pure core.
 */
import { ShoalError } from '../../base/errors.js';
import { isNodeId, type NodeId } from '../../identity/node-id.js';
import { checkLocalOp } from './local.js';
import {
  findByCapability,
  findByType,
  leastLoadedNode,
  listProcesses,
  listServices,
  ServiceResolver,
  type ProcessRow,
  type ServiceInstance,
} from './queries.js';
import type { LocalOp, RegistryState } from './types.js';

/** What the API needs of a running registry: its state, and a way to step one local write. */
export interface RegistryPort {
  readonly state: RegistryState;
  write(op: LocalOp): void;
}

function bad(message: string): never {
  throw new ShoalError('ERR_INVALID_ARGUMENT', message);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return bad(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string): string {
  return typeof value === 'string' ? value : bad(`${what} must be a string`);
}

function strings(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    return bad(`${what} must be an array of strings`);
  return value as string[];
}

function submit(port: RegistryPort, op: LocalOp): void {
  const why = checkLocalOp(port.state, op);
  if (why !== undefined) bad(why);
  port.write(op);
}

export class ServicesApi {
  private readonly resolver = new ServiceResolver();

  constructor(private readonly port: RegistryPort) {}

  /** Advertises (or updates) this node's instance of `name`; `tags` default [], `weight` 1. */
  advertise(args: { name: string; address: string; tags?: string[]; weight?: number }): void {
    const a = record(args, 'services.advertise argument');
    const weight = a.weight === undefined ? 1 : a.weight;
    if (typeof weight !== 'number') bad('service weight must be a number');
    submit(this.port, {
      op: 'advertise-service',
      name: text(a.name, 'service name'),
      value: {
        address: text(a.address, 'service address'),
        tags: strings(a.tags, 'service tags'),
        weight,
      },
    });
  }

  withdraw(name: string): void {
    submit(this.port, { op: 'withdraw', table: 'service', key: text(name, 'service name') });
  }

  /** Live instances of `name` (all names when omitted). */
  list(name?: string): ServiceInstance[] {
    return listServices(
      this.port.state,
      name === undefined ? undefined : text(name, 'service name'),
    );
  }

  /** The preferred node's instance when that node is live, else a live one by weighted round-robin. */
  resolve(name: string, options: { prefer?: NodeId } = {}): ServiceInstance | undefined {
    const prefer = record(options, 'resolve options').prefer;
    if (prefer !== undefined && (typeof prefer !== 'string' || !isNodeId(prefer)))
      bad('resolve prefer must be a NodeId (32 lowercase hex characters)');
    return this.resolver.resolve(
      this.port.state,
      text(name, 'service name'),
      prefer as NodeId | undefined,
    );
  }
}

export class ProcessesApi {
  constructor(private readonly port: RegistryPort) {}

  /** Advertises (or updates) a process of this node; `capabilities` default [], `status` 'running', `load` 0. */
  advertise(args: {
    pid: string;
    type: string;
    capabilities?: string[];
    status?: string;
    load?: number;
  }): void {
    const a = record(args, 'processes.advertise argument');
    const load = a.load === undefined ? 0 : a.load;
    if (typeof load !== 'number') bad('process load must be a number');
    submit(this.port, {
      op: 'advertise-process',
      pid: text(a.pid, 'process pid'),
      value: {
        type: text(a.type, 'process type'),
        capabilities: strings(a.capabilities, 'process capabilities'),
        status: a.status === undefined ? 'running' : text(a.status, 'process status'),
        load,
      },
    });
  }

  withdraw(pid: string): void {
    submit(this.port, { op: 'withdraw', table: 'process', key: text(pid, 'process pid') });
  }

  list(filter: { type?: string; capability?: string } = {}): ProcessRow[] {
    return listProcesses(this.port.state, filter);
  }

  findByType(type: string): ProcessRow[] {
    return findByType(this.port.state, text(type, 'process type'));
  }

  findByCapability(capability: string): ProcessRow[] {
    return findByCapability(this.port.state, text(capability, 'capability'));
  }

  leastLoadedNode(filter: { type?: string; capability?: string } = {}): NodeId | undefined {
    return leastLoadedNode(this.port.state, filter);
  }
}

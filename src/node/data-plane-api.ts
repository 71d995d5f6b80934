/**
 * `node.services`, `node.processes` and `node.placement` (INTERFACE.md, "Data plane"): the
 * registry's synchronous API (crdt/registry/api.ts) plus what needs the running node, the
 * watchers (data-plane-watch.ts) and the refusal of writes once the node closed. Reads answer
 * from the node's replica at once: no request leaves the node.
 */
import { ShoalError } from '../base/errors.js';
import type { NodeId } from '../identity/node-id.js';
import type { ProcessesApi, ServicesApi } from '../crdt/registry/api.js';
import type { ProcessRow, ServiceInstance } from '../crdt/registry/queries.js';
import type { OwnersChanged, OwnersOptions, PlacementTable } from '../placement/table.js';
import type { ServiceEvent, Watchers } from './data-plane-watch.js';

export type { ServiceEvent } from './data-plane-watch.js';
export type { ProcessRow, ServiceInstance } from '../crdt/registry/queries.js';
export type { OwnersChanged, OwnersOptions } from '../placement/table.js';

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string')
    throw new ShoalError('ERR_INVALID_ARGUMENT', `${what} must be a string`);
  return name;
}

function signalOf(options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null)
    throw new ShoalError('ERR_INVALID_ARGUMENT', 'watch options must be an object');
  const signal = (options as { signal?: unknown }).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new ShoalError('ERR_INVALID_ARGUMENT', 'watch signal must be an AbortSignal');
  return signal;
}

/** The service registry of this node's cluster. */
export class NodeServices {
  constructor(
    private readonly api: ServicesApi,
    private readonly watchers: Watchers,
    private readonly checkOpen: () => void,
  ) {}

  /** Advertises (or updates) this node's instance of `name`; `tags` default [], `weight` 1. */
  advertise(instance: { name: string; address: string; tags?: string[]; weight?: number }): void {
    this.checkOpen();
    this.api.advertise(instance);
  }

  /** Withdraws this node's instance of `name` (nothing happens when it has none). */
  withdraw(name: string): void {
    this.checkOpen();
    this.api.withdraw(name);
  }

  /** Instances on live nodes (self, alive, suspect) of `name`, or of every name; by name, then node. */
  list(name?: string): ServiceInstance[] {
    return this.api.list(name);
  }

  /**
   * One instance of `name`: the `prefer`red node's when that node is live and has one, else
   * weighted round-robin over the live instances (weight 0: never, unless preferred).
   * Undefined when no live node has one. Never an instance of a dead or left node.
   */
  resolve(name: string, options: { prefer?: NodeId } = {}): ServiceInstance | undefined {
    return this.api.resolve(name, options);
  }

  /**
   * The instances of `name` as they change: first the current ones (`added`), then each
   * `added`, `updated` or `removed` (withdrawn, or its node no longer live). Ends when `signal`
   * aborts or the node closes; a reader that falls EVENT_BUFFER_MAX events behind loses the
   * oldest.
   */
  watch(name: string, options: { signal?: AbortSignal } = {}): AsyncIterableIterator<ServiceEvent> {
    return this.watchers.watchService(checkName(name, 'service name'), signalOf(options));
  }
}

/** The process table of this node's cluster. */
export class NodeProcesses {
  constructor(
    private readonly api: ProcessesApi,
    private readonly checkOpen: () => void,
  ) {}

  /** Advertises (or updates) a process of this node; `capabilities` default [], `status` 'running', `load` 0. */
  advertise(process: {
    pid: string;
    type: string;
    capabilities?: string[];
    status?: string;
    load?: number;
  }): void {
    this.checkOpen();
    this.api.advertise(process);
  }

  withdraw(pid: string): void {
    this.checkOpen();
    this.api.withdraw(pid);
  }

  /** Processes on live nodes, filtered by type and capability; by node, then pid. */
  list(filter: { type?: string; capability?: string } = {}): ProcessRow[] {
    return this.api.list(filter);
  }

  findByType(type: string): ProcessRow[] {
    return this.api.findByType(type);
  }

  findByCapability(capability: string): ProcessRow[] {
    return this.api.findByCapability(capability);
  }

  /** The live node running a matching `running` process whose advertised loads sum lowest; ties to the smaller NodeId. */
  leastLoadedNode(filter: { type?: string; capability?: string } = {}): NodeId | undefined {
    return this.api.leastLoadedNode(filter);
  }
}

/** Where keys land on this node's view of the live members (ring, rendezvous or jump). */
export class NodePlacement {
  constructor(
    private readonly table: PlacementTable,
    private readonly watchers: Watchers,
  ) {}

  /** The owners of `key`, primary first; fewer than `replicas` when fewer members are live. */
  owners(key: string, options: OwnersOptions = {}): NodeId[] {
    return this.table.owners(key, options);
  }

  /** The members keys are placed over (self, alive and suspect members), sorted by id. */
  members(): readonly NodeId[] {
    return this.table.view();
  }

  /**
   * `key`'s owners as the view changes: first the current owners (`before: []`), then every
   * change. Ends when `signal` aborts or the node closes.
   */
  watch(
    key: string,
    options: OwnersOptions & { signal?: AbortSignal } = {},
  ): AsyncIterableIterator<OwnersChanged> {
    const { signal, ...owners } = options;
    return this.watchers.watchPlacement(key, owners, signalOf({ signal }));
  }
}

/**
 * The Jepsen harness's network: one Linux network namespace per member, so the nemesis can cut
 * any member-to-member link while every client (in the harness, in the root namespace) still
 * reaches every member. Why namespaces and not per-link TCP proxies: Shoal's Raft sends votes and
 * heartbeats as UDP packets and names each peer by the one listen address every member knows it
 * by (its messages carry `fromAddress`, the replies go there), so a proxy per link would have to
 * forward UDP too and give each member a different address per observer; a namespace per member
 * cuts TCP and UDP alike and leaves every address as the system configured it.
 *
 * Layout, per network (`NetnsNetwork.create`):
 *
 * ```
 *   root namespace (harness, clients)        hub namespace              member namespaces
 *   sj<pid>n<seq>  10.213.K.1/24  ── veth ──  uplink ─┐                  n1: eth0 10.213.K.11
 *                                                     br0 ── port<i> ──  n2: eth0 10.213.K.12
 *                                                                        n3: eth0 10.213.K.13
 * ```
 *
 * The bridge lives in a hub namespace of its own, so member traffic never crosses the root
 * namespace's stack and deleting the namespaces deletes every virtual link with them.
 *
 * Cutting a link a–b pins, in a's namespace, b's address to a MAC nobody has (and the reverse in
 * b's): frames between them go out and are dropped by every receiver, so a TCP connect hangs and
 * UDP datagrams vanish, with no error to either side, as on a real network that lost the link.
 * (A blackhole route would fail sends at once with EINVAL; this kernel has no netem or tc actions
 * to drop with; iptables is not installed.) `verify` probes every link from inside the
 * namespaces (probe.ts) after every cut and heal, so a cut that did not take effect stops the run
 * instead of passing silently.
 *
 * Cleanup is certain by construction: every name carries the prefix `shoal-jepsen-`, this
 * process's PID and a sequence number; an ownership file in STATE_DIR is written before
 * anything is created, listing what will be; `destroy()` runs in `finally`, and an exit hook
 * (also on SIGINT, SIGTERM, SIGHUP) deletes what is still live. A run killed with SIGKILL leaves
 * its namespaces behind: `sweepOrphans()`, run before every new network, removes those whose
 * owner is gone (PID and process start time), and the processes still inside them (started by
 * that dead run, in namespaces only this harness creates). Nothing else is ever touched.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ShoalError } from '../../src/base/errors.js';
import { ProbeHelper, type ProbeResult } from './probe.js';

/** Every namespace this harness creates is named `${NETNS_PREFIX}<pid>-<seq>-<tag>`. */
export const NETNS_PREFIX = 'shoal-jepsen-';
/** Ownership files, one per live network (tmpfs: gone after a reboot, like the namespaces). */
export const STATE_DIR = '/run/shoal-jepsen';
/** Networks are 10.213.K.0/24 for a free K in 1..254. */
const SUBNET_PREFIX = '10.213';
const SUBNET_COUNT = 254;
/** The MAC a cut pins a peer's address to: locally administered, unicast, never assigned here. */
export const VOID_MAC = '02:5a:00:00:00:00';
/** Bound on one `ip` command (generous: process start-up alone took over 10 s at worst here). */
const COMMAND_TIMEOUT_MS = 60_000;
/** A probe's connect gives up after this long: a cut link answers nothing within it. */
export const PROBE_TIMEOUT_MS = 1_000;
/**
 * A link that should be up is probed again with these longer bounds before it is called cut: on
 * a loaded machine starting bash and connecting can take longer than PROBE_TIMEOUT_MS, while a
 * link that should be cut is wrong the moment it connects, however fast.
 */
export const PROBE_RETRY_TIMEOUTS_MS = [2_000, 4_000, 8_000] as const;
/** Members per network (interface names and addresses are sized for it). */
export const MEMBERS_MAX = 9;
/** Linux's limit on an interface name (IFNAMSIZ - 1). */
const IFNAME_CHARS_MAX = 15;

/** What an ownership file holds: enough to remove the network if its owner dies. */
export interface Ownership {
  readonly pid: number;
  /** The owner's start time (clock ticks since boot, /proc/<pid>/stat field 22). */
  readonly startTicks: number;
  readonly namespaces: readonly string[];
  readonly rootLink: string;
  readonly subnet: string;
}

/** How a cut is made; `noop-unsafe` records the cut and changes nothing (the probe's mutant). */
export type CutMethod = 'neighbor' | 'noop-unsafe';

let support: { reason: string | undefined } | undefined;

/** Why namespaces cannot be used here, or undefined when they can (checked once per process). */
export function netnsUnsupported(): string | undefined {
  support ??= { reason: checkSupport() };
  return support.reason;
}

function checkSupport(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root or skip)';
  try {
    execFileSync('ip', ['netns', 'list'], { timeout: COMMAND_TIMEOUT_MS, stdio: 'pipe' });
  } catch (err) {
    return `\`ip netns\` is not usable: ${(err as Error).message}`;
  }
  return undefined;
}

function unavailable(message: string): ShoalError {
  return new ShoalError('ERR_JEPSEN_UNAVAILABLE', message);
}

/** Runs `ip ...` and returns stdout; throws with the command and its stderr. */
export function ipAsync(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: COMMAND_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
    });
  });
}

/** The synchronous twin, for the exit hook and the sweep (nothing else runs then). */
function ipSync(args: readonly string[]): string {
  return execFileSync('ip', [...args], {
    timeout: COMMAND_TIMEOUT_MS,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function tryIpSync(args: readonly string[]): boolean {
  try {
    ipSync(args);
    return true;
  } catch {
    return false;
  }
}

/** Process start time in clock ticks since boot, or undefined when the PID is not running. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses; the fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** True when the owner recorded in a file still runs (same PID and same start time). */
function ownerAlive(owner: Pick<Ownership, 'pid' | 'startTicks'>): boolean {
  return processStartTicks(owner.pid) === owner.startTicks;
}

/** The namespace names `ip netns list` shows. */
export function listNamespaces(): string[] {
  return ipSync(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** SIGKILLs every process inside `ns` (ours: only this harness creates such namespaces), then deletes it. */
function removeNamespaceSync(ns: string): void {
  let pids: string[];
  try {
    pids = ipSync(['netns', 'pids', ns]).split('\n').filter(Boolean);
  } catch {
    return; // already gone
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  tryIpSync(['netns', 'del', ns]);
}

export interface SweepResult {
  /** Namespaces of dead owners removed. */
  readonly namespaces: string[];
  /** Ownership files of dead owners removed. */
  readonly files: string[];
  /** Ownership files that could not be read (left in place, named here). */
  readonly unreadable: string[];
}

function parseOwnership(text: string): Ownership | undefined {
  try {
    const value = JSON.parse(text) as Partial<Ownership>;
    const ok =
      Number.isSafeInteger(value.pid) &&
      Number.isSafeInteger(value.startTicks) &&
      Array.isArray(value.namespaces) &&
      value.namespaces.every((n) => typeof n === 'string' && n.startsWith(NETNS_PREFIX)) &&
      typeof value.rootLink === 'string' &&
      /^sj\d+n\d+$/.test(value.rootLink) &&
      typeof value.subnet === 'string';
    return ok ? (value as Ownership) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes what earlier runs of this harness left behind when they died without cleaning up:
 * the networks of ownership files whose owner is gone, then any namespace named with
 * NETNS_PREFIX whose PID (in its name) no longer runs. A file that cannot be parsed is left
 * alone and reported: without a readable owner nothing can be proven dead.
 */
export function sweepOrphans(): SweepResult {
  const result: SweepResult = { namespaces: [], files: [], unreadable: [] };
  let files: string[];
  try {
    files = readdirSync(STATE_DIR).filter((f) => /^net-\d+\.json$/.test(f));
  } catch {
    files = [];
  }
  for (const file of files) {
    const path = join(STATE_DIR, file);
    const owner = parseOwnership(readFileSync(path, 'utf8'));
    if (owner === undefined) {
      result.unreadable.push(path);
      continue;
    }
    if (ownerAlive(owner)) continue;
    const present = new Set(listNamespaces());
    for (const ns of owner.namespaces) {
      if (!present.has(ns)) continue;
      removeNamespaceSync(ns);
      result.namespaces.push(ns);
    }
    tryIpSync(['link', 'del', 'dev', owner.rootLink]);
    rmSync(path, { force: true });
    result.files.push(path);
  }
  for (const ns of listNamespaces()) {
    const pid = /^shoal-jepsen-(\d+)-\d+-[a-z0-9]+$/.exec(ns)?.[1];
    if (pid === undefined || processStartTicks(Number(pid)) !== undefined) continue;
    removeNamespaceSync(ns);
    result.namespaces.push(ns);
  }
  return result;
}

/** Whether two IPv4 prefixes (`a.b.c.d/len`, a bare address is a /32) overlap. */
export function prefixesOverlap(a: string, b: string): boolean {
  const parse = (cidr: string): [number, number] => {
    const [addr = '', lenText = '32'] = cidr.split('/');
    return [addr.split('.').reduce((acc, part) => acc * 256 + Number(part), 0), Number(lenText)];
  };
  const [na, la] = parse(a);
  const [nb, lb] = parse(b);
  const len = Math.min(la, lb);
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return (na & mask) >>> 0 === (nb & mask) >>> 0;
}

/** The prefixes the root namespace routes or owns (the default route excluded). */
function rootPrefixes(): string[] {
  const routes = ipSync(['-4', '-o', 'route', 'show', 'table', 'all']);
  const addrs = ipSync(['-4', '-o', 'addr', 'show']);
  const out: string[] = [];
  for (const line of routes.split('\n')) {
    const first = line.split(' ')[0] ?? '';
    const target = first === 'local' || first === 'broadcast' ? line.split(' ')[1] : first;
    if (target !== undefined && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(target)) out.push(target);
  }
  for (const m of addrs.matchAll(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/g)) out.push(m[1] as string);
  return out;
}

/** Hooks that delete every live network when the process ends before `destroy()`. */
const live = new Set<NetnsNetwork>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const network of live) network.destroySync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => process.exit(130));
}

let sequence = 0;

/** A network of `members` namespaces on one bridge; see the module comment. */
export class NetnsNetwork {
  /** Member addresses, by index: 10.213.K.11, .12, ... */
  readonly hosts: readonly string[];
  /** The harness's (root namespace) address on the bridge. */
  readonly clientHost: string;
  private readonly cuts = new Set<string>();
  /** One probe helper per member namespace, started after the namespaces are built. */
  private helpers: ProbeHelper[] = [];
  private destroyed = false;

  private constructor(
    readonly owner: Ownership,
    private readonly statePath: string,
    private readonly memberNamespaces: readonly string[],
    private readonly cutMethod: CutMethod,
  ) {
    const base = owner.subnet.replace(/\.0\/24$/, '');
    this.clientHost = `${base}.1`;
    this.hosts = memberNamespaces.map((_, i) => `${base}.${11 + i}`);
  }

  /** Sweeps orphans, claims a free subnet, builds the namespaces and checks every member reaches the harness. */
  static async create(members: number, cutMethod: CutMethod = 'neighbor'): Promise<NetnsNetwork> {
    const reason = netnsUnsupported();
    if (reason !== undefined) throw unavailable(reason);
    if (!Number.isSafeInteger(members) || members < 1 || members > MEMBERS_MAX)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `members ${members}: expected 1..${MEMBERS_MAX}`,
      );
    sweepOrphans();
    installExitHooks();
    const seq = sequence++;
    const stem = `${NETNS_PREFIX}${process.pid}-${seq}-`;
    const rootLink = `sj${process.pid}n${seq}`;
    if (rootLink.length > IFNAME_CHARS_MAX) throw new Error(`interface name ${rootLink} too long`);
    const memberNamespaces = Array.from({ length: members }, (_, i) => `${stem}n${i + 1}`);
    const startTicks = processStartTicks(process.pid);
    if (startTicks === undefined) throw new Error('cannot read this process start time');
    const { subnet, statePath } = claimSubnet({
      pid: process.pid,
      startTicks,
      namespaces: [`${stem}hub`, ...memberNamespaces],
      rootLink,
    });
    const network = new NetnsNetwork(
      {
        pid: process.pid,
        startTicks,
        namespaces: [`${stem}hub`, ...memberNamespaces],
        rootLink,
        subnet,
      },
      statePath,
      memberNamespaces,
      cutMethod,
    );
    live.add(network);
    try {
      await network.build();
      network.helpers = memberNamespaces.map((_, i) => new ProbeHelper(network.command(i)));
      await network.checkReachesHarness();
    } catch (err) {
      network.destroySync();
      throw err;
    }
    return network;
  }

  private get hub(): string {
    return this.owner.namespaces[0] as string;
  }

  namespace(index: number): string {
    const ns = this.memberNamespaces[index];
    if (ns === undefined) throw new Error(`netns: no member ${index}`);
    return ns;
  }

  /** The command prefix that runs a program inside member `index`'s network, in place (same PID). */
  command(index: number): readonly string[] {
    return ['ip', 'netns', 'exec', this.namespace(index)];
  }

  private async build(): Promise<void> {
    for (const ns of this.owner.namespaces) await ipAsync(['netns', 'add', ns]);
    const hub = this.hub;
    await ipAsync(['-n', hub, 'link', 'add', 'name', 'br0', 'type', 'bridge']);
    await ipAsync(['-n', hub, 'link', 'set', 'dev', 'br0', 'up']);
    const root = this.owner.rootLink;
    await ipAsync([
      'link',
      'add',
      'name',
      root,
      'type',
      'veth',
      'peer',
      'name',
      'uplink',
      'netns',
      hub,
    ]);
    await ipAsync(['-n', hub, 'link', 'set', 'dev', 'uplink', 'master', 'br0', 'up']);
    await ipAsync(['addr', 'add', `${this.clientHost}/24`, 'dev', root]);
    await ipAsync(['link', 'set', 'dev', root, 'up']);
    for (const [i, ns] of this.memberNamespaces.entries()) {
      const port = `port${i + 1}`;
      // `ip -n HUB link add ... netns NS` cannot resolve NS; run it inside the hub instead.
      await ipAsync([
        'netns',
        'exec',
        hub,
        'ip',
        'link',
        'add',
        'name',
        port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await ipAsync(['-n', hub, 'link', 'set', 'dev', port, 'master', 'br0', 'up']);
      await ipAsync(['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
      await ipAsync(['-n', ns, 'addr', 'add', `${this.hosts[i]}/24`, 'dev', 'eth0']);
      await ipAsync(['-n', ns, 'link', 'set', 'dev', 'eth0', 'up']);
    }
  }

  /** Every member connects to a listener of the harness on its bridge address (bounded). */
  private async checkReachesHarness(): Promise<void> {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, this.clientHost, resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      for (let i = 0; i < this.memberNamespaces.length; i++) {
        const result = await this.probeUp(i, this.clientHost, port);
        if (result !== 'connected')
          throw new Error(
            `netns: member ${i} cannot reach the harness at ${this.clientHost}:${port} (${result})`,
          );
      }
    } finally {
      server.close();
    }
  }

  /** From inside member `from`'s namespace, a TCP connect to host:port (probe.ts). */
  probe(
    from: number,
    host: string,
    port: number,
    timeoutMs = PROBE_TIMEOUT_MS,
  ): Promise<ProbeResult> {
    const helper = this.helpers[from];
    if (helper === undefined) throw new Error(`netns: no probe helper for member ${from}`);
    return helper.probe(host, port, timeoutMs);
  }

  /** A probe of a link that should be up: a timeout is retried with PROBE_RETRY_TIMEOUTS_MS. */
  private async probeUp(from: number, host: string, port: number): Promise<ProbeResult> {
    let result = await this.probe(from, host, port);
    for (const timeoutMs of PROBE_RETRY_TIMEOUTS_MS) {
      if (result !== 'timeout') return result;
      result = await this.probe(from, host, port, timeoutMs);
    }
    return result;
  }

  private static linkKey(a: number, b: number): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`;
  }

  /** The links cut now, as [a, b] with a < b. */
  cutLinks(): [number, number][] {
    return [...this.cuts].map((k) => k.split('-').map(Number) as [number, number]);
  }

  /** Cuts the link between members a and b, both ways, silently (see the module comment). */
  async cut(a: number, b: number): Promise<void> {
    if (a === b) throw new Error(`netns: cannot cut member ${a} from itself`);
    this.cuts.add(NetnsNetwork.linkKey(a, b));
    await this.pinNeighbours(a, b, true);
  }

  /** Restores every cut link. */
  async healAll(): Promise<void> {
    for (const [a, b] of this.cutLinks()) {
      this.cuts.delete(NetnsNetwork.linkKey(a, b));
      await this.pinNeighbours(a, b, false);
    }
  }

  /** Pins (or unpins) a's entry for b to VOID_MAC, and b's for a. */
  private async pinNeighbours(a: number, b: number, pin: boolean): Promise<void> {
    if (this.cutMethod === 'noop-unsafe') return;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const entry = [this.hosts[to] as string, ...(pin ? ['lladdr', VOID_MAC] : []), 'dev', 'eth0'];
      await ipAsync([
        '-n',
        this.namespace(from),
        'neigh',
        pin ? 'replace' : 'del',
        ...entry,
        ...(pin ? ['nud', 'permanent'] : []),
      ]);
    }
  }

  /**
   * Checks that the network is what the nemesis believes: for every pair, a connect from one
   * member to the other's `port` times out exactly when their link is cut (both directions; a
   * link that should be up gets PROBE_RETRY_TIMEOUTS_MS before it counts as cut). Throws
   * ERR_JEPSEN_NEMESIS naming every pair that disagrees.
   */
  async verify(port: number): Promise<void> {
    const n = this.memberNamespaces.length;
    const checks: Promise<string | undefined>[] = [];
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        if (a === b) continue;
        const cut = this.cuts.has(NetnsNetwork.linkKey(a, b));
        const host = this.hosts[b] as string;
        checks.push(
          (cut ? this.probe(a, host, port) : this.probeUp(a, host, port)).then((result) =>
            (cut ? result === 'timeout' : result === 'connected' || result === 'refused')
              ? undefined
              : `member ${a} -> ${this.hosts[b]}:${port} is ${result} but the link is ${cut ? 'cut' : 'healed'}`,
          ),
        );
      }
    const wrong = (await Promise.all(checks)).filter((w) => w !== undefined);
    if (wrong.length > 0)
      throw new ShoalError(
        'ERR_JEPSEN_NEMESIS',
        `the network is not as the nemesis set it: ${wrong.join('; ')}\n${await this.describe()}`,
      );
  }

  /** Each member's links and neighbour table, for an error message. */
  async describe(): Promise<string> {
    const lines: string[] = [];
    for (const ns of this.memberNamespaces) {
      const neigh = await ipAsync(['-n', ns, 'neigh', 'show']).catch((e: Error) => e.message);
      const link = await ipAsync(['-n', ns, '-br', 'link', 'show']).catch((e: Error) => e.message);
      lines.push(
        `${ns}: ${link.trim().replace(/\s+/g, ' ')}; neighbours: ${neigh.trim().replace(/\n/g, '; ') || 'none'}`,
      );
    }
    return lines.join('\n');
  }

  /** Deletes the namespaces (and the processes left in them), the root link and the ownership file. */
  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** Synchronous, for the exit hook. Safe to call twice. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const helper of this.helpers) helper.close();
    for (const ns of [...this.memberNamespaces, this.hub]) removeNamespaceSync(ns);
    tryIpSync(['link', 'del', 'dev', this.owner.rootLink]);
    rmSync(this.statePath, { force: true });
  }
}

/** Claims a free 10.213.K.0/24: writes the ownership file exclusively (a concurrent harness takes another K). */
function claimSubnet(owner: Omit<Ownership, 'subnet'>): { subnet: string; statePath: string } {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const taken = rootPrefixes();
  const start = owner.pid % SUBNET_COUNT;
  for (let i = 0; i < SUBNET_COUNT; i++) {
    const k = ((start + i) % SUBNET_COUNT) + 1;
    const subnet = `${SUBNET_PREFIX}.${k}.0/24`;
    if (taken.some((p) => prefixesOverlap(p, subnet))) continue;
    const statePath = join(STATE_DIR, `net-${k}.json`);
    try {
      writeFileSync(statePath, JSON.stringify({ ...owner, subnet }), { flag: 'wx', mode: 0o600 });
      return { subnet, statePath };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
  }
  throw unavailable(
    `no free ${SUBNET_PREFIX}.K.0/24 subnet (all ${SUBNET_COUNT} in use or claimed)`,
  );
}

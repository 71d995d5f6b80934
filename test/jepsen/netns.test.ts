/**
 * The Jepsen network (netns.ts) on real namespaces, as root: a cut drops TCP and UDP both ways
 * while the harness still reaches the cut member, a heal restores the link, `verify` catches a
 * cut that did not take effect (the `noop-unsafe` mutant), and nothing is left behind: not by
 * `destroy`, not by a process ended with SIGTERM (exit hook), not by one ended with SIGKILL (the
 * next run's sweep), while the sweep leaves live owners' namespaces and foreign ones alone.
 * Skipped, with the reason, where namespaces cannot be made (not root, no `ip netns`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { until } from '../helpers/wait.js';
import {
  NETNS_PREFIX,
  NetnsNetwork,
  STATE_DIR,
  listNamespaces,
  netnsUnsupported,
  prefixesOverlap,
  processStartTicks,
  sweepOrphans,
  type Ownership,
} from './netns.js';

describe('prefixesOverlap', () => {
  it.each([
    ['10.213.5.0/24', '10.213.5.0/24', true],
    ['10.213.5.0/24', '10.213.6.0/24', false],
    ['10.0.0.0/8', '10.213.5.0/24', true],
    ['10.213.5.7', '10.213.5.0/24', true],
    ['10.213.5.0/25', '10.213.5.128/25', false],
    ['192.0.2.0/24', '10.213.5.0/24', false],
    ['0.0.0.0/0', '10.213.5.0/24', true],
  ])('%s and %s: %s', (a, b, expected) => {
    expect(prefixesOverlap(a, b)).toBe(expected);
    expect(prefixesOverlap(b, a)).toBe(expected);
  });
});

const unsupported = netnsUnsupported();
const PORT = 7000;

/**
 * In member i's namespace: a TCP listener on PORT, and a UDP socket on PORT that sends a
 * datagram to every other member every 20 ms and prints `udp <sender>` for each one received.
 */
function memberScript(self: string, others: readonly string[]): string {
  return `
    const net = require('node:net'), dgram = require('node:dgram');
    net.createServer((s) => s.destroy()).listen(${PORT}, '${self}');
    const u = dgram.createSocket('udp4');
    u.on('message', (_m, r) => process.stdout.write('udp ' + r.address + '\\n'));
    u.bind(${PORT}, '${self}', () => setInterval(() => {
      for (const o of ${JSON.stringify(others)}) u.send('x', ${PORT}, o, () => {});
    }, 20));
    setTimeout(() => process.exit(0), 60000);`;
}

/** Counts the UDP datagrams each member receives, by sender address. */
class UdpLog {
  readonly received: Map<string, number>[];
  constructor(children: ChildProcess[]) {
    this.received = children.map(() => new Map());
    children.forEach((child, i) => {
      if (child.stdout === null) return;
      createInterface({ input: child.stdout }).on('line', (line) => {
        const from = /^udp (\S+)$/.exec(line)?.[1];
        if (from === undefined) return;
        const seen = this.received[i] as Map<string, number>;
        seen.set(from, (seen.get(from) ?? 0) + 1);
      });
    });
  }
  count(at: number, from: string): number {
    return this.received[at]?.get(from) ?? 0;
  }
}

function tcpFromHarness(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: PORT, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(unsupported !== undefined)(
  `NetnsNetwork on real namespaces${unsupported === undefined ? '' : ` (skipped: ${unsupported})`}`,
  () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function withMembers(
      network: NetnsNetwork,
    ): Promise<{ children: ChildProcess[]; udp: UdpLog }> {
      const children = network.hosts.map((host, i) => {
        const [command, ...prefix] = network.command(i);
        const others = network.hosts.filter((h) => h !== host);
        return spawn(command as string, [...prefix, 'node', '-e', memberScript(host, others)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
      });
      cleanups.push(() => {
        for (const child of children) child.kill('SIGKILL');
      });
      const udp = new UdpLog(children);
      await until(
        async () => (children.every((_, i) => udp.received[i]?.size === 2) ? true : undefined),
        20_000,
        'every member hears both others over UDP',
      );
      return { children, udp };
    }

    it('a cut drops TCP and UDP both ways, the harness still reaches the cut member, a heal restores it', async () => {
      const network = await NetnsNetwork.create(3);
      cleanups.push(() => network.destroy());
      const { udp } = await withMembers(network);
      const [h0, h1, h2] = network.hosts as [string, string, string];
      await network.verify(PORT);

      await network.cut(0, 1);
      await network.verify(PORT);
      await sleep(100); // datagrams already in flight when the link was cut
      const before = [udp.count(0, h1), udp.count(1, h0), udp.count(0, h2), udp.count(2, h0)];
      await sleep(500);
      expect(udp.count(0, h1)).toBe(before[0]);
      expect(udp.count(1, h0)).toBe(before[1]);
      expect(udp.count(0, h2)).toBeGreaterThan(before[2] as number);
      expect(udp.count(2, h0)).toBeGreaterThan(before[3] as number);
      expect(await tcpFromHarness(h0)).toBe(true);
      expect(await tcpFromHarness(h1)).toBe(true);
      expect(network.cutLinks()).toEqual([[0, 1]]);

      await network.healAll();
      await network.verify(PORT);
      const healed = udp.count(0, h1);
      await until(
        async () => (udp.count(0, h1) > healed ? true : undefined),
        10_000,
        'UDP flows again after the heal',
      );
      expect(network.cutLinks()).toEqual([]);
    });

    it('verify stops the run when a cut did not take effect (noop-unsafe mutant)', async () => {
      const network = await NetnsNetwork.create(3, 'noop-unsafe');
      cleanups.push(() => network.destroy());
      await withMembers(network);
      await network.cut(0, 2);
      const error = await network.verify(PORT).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(hasErrorCode(error, 'ERR_JEPSEN_NEMESIS')).toBe(true);
      expect(String(error)).toMatch(/member 0 -> \S+ is connected but the link is cut/);
    });

    it('destroy leaves no namespace, link or ownership file', async () => {
      const network = await NetnsNetwork.create(2);
      const owner = network.owner;
      await network.destroy();
      const namespaces = listNamespaces();
      for (const ns of owner.namespaces) expect(namespaces).not.toContain(ns);
      expect(linkExists(owner.rootLink)).toBe(false);
      expect(ownershipFiles(owner)).toEqual([]);
    });

    it('SIGTERM runs the exit hook; after SIGKILL the next sweep removes the orphan and its processes', async () => {
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', fileURLToPath(new URL('./net-child.ts', import.meta.url))],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        cleanups.push(() => void child.kill('SIGKILL'));
        const owner = await readyLine(child);
        // A process left inside the orphan, as a killed run leaves its members.
        const [command, ...prefix] = ['ip', 'netns', 'exec', owner.namespaces[1] as string];
        const inside = spawn(command as string, [...prefix, 'sleep', '60'], { stdio: 'ignore' });
        cleanups.push(() => void inside.kill('SIGKILL'));
        await until(
          async () => (processStartTicks(inside.pid as number) !== undefined ? true : undefined),
          5_000,
          'sleep runs inside the namespace',
        );
        child.kill(signal);
        await new Promise((resolve) => child.once('exit', resolve));
        if (signal === 'SIGKILL') {
          expect(listNamespaces()).toContain(owner.namespaces[0]);
          const swept = sweepOrphans();
          expect(swept.namespaces).toEqual(expect.arrayContaining([...owner.namespaces]));
        }
        await until(
          async () => (inside.exitCode !== null || inside.signalCode !== null ? true : undefined),
          5_000,
          'the process inside the namespace was ended',
        );
        const namespaces = listNamespaces();
        for (const ns of owner.namespaces) expect(namespaces).not.toContain(ns);
        expect(linkExists(owner.rootLink)).toBe(false);
        expect(ownershipFiles(owner)).toEqual([]);
      }
    });

    it("the sweep leaves a live owner's namespace, a foreign namespace and an unreadable file alone", async () => {
      const live = `${NETNS_PREFIX}${process.pid}-9999-x`;
      const foreign = `sjtest-foreign-${process.pid}`;
      const deadPid = await deadPidOf();
      const dead = `${NETNS_PREFIX}${deadPid}-0-x`;
      mkdirSync(STATE_DIR, { recursive: true });
      const unreadable = join(STATE_DIR, 'net-9999.json');
      for (const ns of [live, foreign, dead]) execFileSync('ip', ['netns', 'add', ns]);
      writeFileSync(unreadable, '{ not json');
      cleanups.push(() => {
        for (const ns of [live, foreign, dead])
          if (listNamespaces().includes(ns)) execFileSync('ip', ['netns', 'del', ns]);
        rmSync(unreadable, { force: true });
      });
      const swept = sweepOrphans();
      expect(swept.namespaces).toContain(dead);
      expect(swept.namespaces).not.toContain(live);
      expect(swept.unreadable).toContain(unreadable);
      const namespaces = listNamespaces();
      expect(namespaces).toContain(live);
      expect(namespaces).toContain(foreign);
      expect(namespaces).not.toContain(dead);
      expect(existsSync(unreadable)).toBe(true);
    });
  },
);

function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function ownershipFiles(owner: Ownership): string[] {
  const k = /^10\.213\.(\d+)\.0\/24$/.exec(owner.subnet)?.[1];
  const path = join(STATE_DIR, `net-${k}.json`);
  if (!existsSync(path)) return [];
  return execFileSync('cat', [path], { encoding: 'utf8' }).includes(`"pid":${owner.pid},`)
    ? [path]
    : [];
}

async function readyLine(child: ChildProcess): Promise<Ownership> {
  if (child.stdout === null) throw new Error('no stdout');
  const lines = createInterface({ input: child.stdout });
  const bound = AbortSignal.timeout(30_000);
  return new Promise((resolve, reject) => {
    bound.addEventListener('abort', () => reject(new Error('net-child not ready in 30 s')), {
      once: true,
    });
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) resolve(JSON.parse(line.slice('ready '.length)) as Ownership);
    });
    child.once('exit', (code) => reject(new Error(`net-child exited ${code}`)));
  });
}

/** The PID of a process that has exited (reused only after the PID space wraps). */
async function deadPidOf(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

/**
 * Connect probes from inside a member's namespace, through one long-lived helper process per
 * namespace (plain `node -e`, started once with the network). Why not a fresh `bash -c
 * '</dev/tcp/…'` per probe: on this shared machine starting a process sometimes took more than
 * 10 s (a full matrix run saw `spawnSync bash ETIMEDOUT`), and a probe whose own start-up eats
 * its connect bound reports a healthy link as cut. The helper is already running; it answers
 * `connected` whenever the kernel finished the connect before the helper looked, because its
 * timer only decides after the event loop has polled for I/O (setTimeout, then setImmediate).
 *
 * Protocol: the harness writes `<id> <host> <port> <timeoutMs>` lines; the helper answers `<id>
 * connected|refused|timeout|unreachable:<code>`. It exits when its stdin closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { track } from '../../bench/lib-tracked-process.js';

export type ProbeResult = 'connected' | 'refused' | 'timeout' | `unreachable:${string}`;

/** Bound on the helper answering at all, beyond the probe's own timeout (its start-up included). */
export const PROBE_ANSWER_MARGIN_MS = 60_000;

const HELPER = `
const net = require('node:net');
const lines = require('node:readline').createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [id, host, port, ms] = line.split(' ');
  let done = false;
  const socket = net.connect({ host, port: Number(port) });
  const finish = (result) => {
    if (done) return;
    done = true;
    socket.destroy();
    process.stdout.write(id + ' ' + result + '\\n');
  };
  socket.once('connect', () => finish('connected'));
  socket.once('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'unreachable:' + e.code));
  setTimeout(() => setImmediate(() => finish('timeout')), Number(ms));
});
lines.on('close', () => process.exit(0));
`;

export class ProbeHelper {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (result: ProbeResult) => void>();
  private nextId = 0;
  private exitedWith: string | undefined;

  /** Starts the helper with `command` (a prefix that runs a program inside the namespace). */
  constructor(command: readonly string[]) {
    const [program, ...prefix] = [...command, process.execPath];
    this.child = spawn(program as string, [...prefix, '-e', HELPER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    track(this.child);
    this.child.stdin?.on('error', (err) => {
      this.exitedWith ??= `probe helper's stdin failed: ${err.message}`;
    });
    if (this.child.stdout !== null)
      createInterface({ input: this.child.stdout }).on('line', (line) => {
        const [id, result] = line.split(' ');
        const resolve = this.pending.get(Number(id));
        this.pending.delete(Number(id));
        resolve?.(result as ProbeResult);
      });
    this.child.once('exit', (code, signal) => {
      this.exitedWith = `probe helper exited (${code ?? signal})`;
    });
  }

  /** A TCP connect to host:port from inside the namespace, given up after `timeoutMs`. */
  probe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
    if (this.exitedWith !== undefined) return Promise.reject(new Error(this.exitedWith));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `probe helper did not answer ${host}:${port} within ${timeoutMs + PROBE_ANSWER_MARGIN_MS} ms`,
          ),
        );
      }, timeoutMs + PROBE_ANSWER_MARGIN_MS);
      this.pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.child.stdin?.write(`${id} ${host} ${port} ${timeoutMs}\n`);
    });
  }

  /** Ends the helper (closing stdin is enough; SIGKILL makes sure). */
  close(): void {
    this.child.stdin?.end();
    this.child.kill('SIGKILL');
  }
}

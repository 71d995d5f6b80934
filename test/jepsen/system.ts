/**
 * What the Jepsen harness needs from a system under test (issue 14): a cluster of members, each
 * started inside the network the harness gives it (a namespace per member, so the nemesis can
 * cut member-to-member links), serving the etcd v3 gRPC API to the harness's etcd3 clients, with
 * PIDs the nemesis can kill (SIGKILL), restart, pause (SIGSTOP) and resume (SIGCONT).
 *
 * etcd implements it today (etcd-system.ts); Shoal's `raft` mode with its etcd-compatible gRPC
 * endpoint implements it in shoal-system.ts, and is refused with ERR_JEPSEN_UNAVAILABLE until
 * the agent has that mode.
 */

/** Where members run: member i listens on `hosts[i]`, and `command(i)` runs a program in its network. */
export interface MemberNetwork {
  readonly hosts: readonly string[];
  /** A command prefix that execs the program in place (the PID stays the program's). */
  command(index: number): readonly string[];
}

export interface JepsenSystem {
  /** Table label with the version (`etcd 3.4.23`). */
  readonly name: string;
  /** Why it cannot run here, or undefined (checked before anything is started). */
  unavailable(): string | undefined;
  /** The TCP port members reach each other on; probed to verify cuts and heals. */
  readonly peerPort: number;
  /** Starts a fresh cluster on `network` and waits (bounded) until a majority agrees on a leader. */
  start(network: MemberNetwork): Promise<void>;
  /** Stops every process it started and removes their data; safe to call twice. */
  stop(): Promise<void>;
  /** Each member's etcd v3 gRPC endpoint, `http://host:port`. */
  endpoints(): string[];
  /** PIDs of the members running now. */
  pids(): number[];
  /** Each member's view of the leader (a member index); undefined when down, paused or leaderless. */
  leaderViews(): Promise<(number | undefined)[]>;
  /** SIGKILL of member `index` by its PID; resolves when it is gone. */
  kill(index: number): Promise<void>;
  /** Starts member `index` again on its data and waits (bounded) until it serves. */
  restart(index: number): Promise<void>;
  /** SIGSTOP (pause) or SIGCONT (resume) of member `index`. */
  signal(index: number, signal: 'SIGSTOP' | 'SIGCONT'): void;
}

/** The member a majority of `views` names as leader, or undefined. */
export function majorityLeader(views: readonly (number | undefined)[]): number | undefined {
  const majority = Math.floor(views.length / 2) + 1;
  for (const candidate of new Set(views))
    if (candidate !== undefined && views.filter((v) => v === candidate).length >= majority)
      return candidate;
  return undefined;
}

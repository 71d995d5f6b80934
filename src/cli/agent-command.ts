/**
 * `shoal agent`: runs one node in the foreground (src/agent/agent.ts). Flags override `SHOAL_*`
 * environment variables, which override the YAML file given by `--config` / `SHOAL_CONFIG`;
 * all three are validated once by src/agent/config.ts (a bad value exits 2).
 */
import type { Command } from 'commander';
import { runAgent } from '../agent/agent.js';
import { resolveAgentConfig } from '../agent/config-layers.js';
import { AGENT_MODE_KINDS, DEFAULT_HTTP_ADDRESS, LOG_LEVELS } from '../agent/config.js';

/** Thrown to end `main` with a specific exit code and nothing more to print. */
export class ExitCode extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description(
      'run one node in the foreground with its HTTP API; JSON logs on stderr; SIGINT/SIGTERM leave gracefully and exit 0',
    )
    .option(
      '--config <file>',
      'YAML config file (env SHOAL_CONFIG); flags and SHOAL_* variables override it',
    )
    .option('--name <name>', 'node name (default: the host name)')
    .option('--bind <host:port>', 'cluster (UDP + TCP) address (default 127.0.0.1:7946)')
    .option('--advertise <host:port>', 'the address peers should use, when it differs from --bind')
    .option('--http <host:port>', `HTTP API address (default ${DEFAULT_HTTP_ADDRESS})`)
    .option(
      '--http-token <token>',
      'require this bearer token for POST endpoints (at least 16 characters)',
    )
    .option('--mode <kind>', `cluster mode: ${AGENT_MODE_KINDS.join(', ')} (default swim)`)
    .option(
      '--join <host:port...>',
      'seed addresses to join (swim), or members of an existing cluster to ask to add this node (raft)',
    )
    .option(
      '--peers <host:port...>',
      "every member's cluster address, self included (static, raft-lite; raft: the initial voters)",
    )
    .option('--data-dir <dir>', 'identity and peer cache directory (default ./data/<name>)')
    .option(
      '--fsync-delay-ms <ms>',
      'BENCHMARKS ONLY: each durable write reports success this many ms late (a slower disk; default 0)',
    )
    .option(
      '--cluster-id <id>',
      'cluster id; nodes of another cluster are refused (default "default")',
    )
    .option('--profile <profile>', 'timing profile: lan, wan, local (default lan)')
    .option(
      '--gossip-carrier <carrier>',
      "how the data plane's gossip travels (swim): own packets, or piggyback in membership's (default own)",
    )
    .option(
      '--eager-pushes-max <n>',
      'deltas the data plane pushes at once before its next gossip round (swim; 0 off; default 4)',
    )
    .option(
      '--chain-pull-interval-ms <ms>',
      'how often chain replication pulls from one random member (default 1000)',
    )
    .option('--chain-payload-bytes-max <n>', 'largest chain entry, bytes (default 65536)')
    .option(
      '--chain-entries-kept-max <n>',
      'chain entries kept in memory per chain; a member further behind cannot take it (default 4096)',
    )
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')} (default info)`)
    .option('--label <key=value...>', 'a label for this node (repeatable)')
    .option(
      '--key <base64...>',
      'gossip encryption key from `shoal keygen` (repeatable; the first is primary)',
    )
    .option(
      '--keyring-file <file>',
      'file with one base64 key per line, the first primary (instead of --key)',
    )
    .option(
      '--grpc <host:port>',
      'serve the etcd v3-compatible gRPC API here (mode raft; off unless given)',
    )
    .option(
      '--grpc-tls-cert <file>',
      'PEM certificate of the gRPC endpoint (with --grpc-tls-key, --grpc-tls-ca)',
    )
    .option('--grpc-tls-key <file>', 'PEM private key of --grpc-tls-cert')
    .option('--grpc-tls-ca <file>', 'PEM CA whose client certificates the gRPC endpoint requires')
    .option(
      '--grpc-stack <stack>',
      "the gRPC server under --grpc: http2 (Shoal's, default) or grpc-js (@grpc/grpc-js)",
    )
    .option(
      '--admission-allow <id-or-key...>',
      'admit these NodeIds or base64 public keys (swim; repeatable; others need a certificate or are refused)',
    )
    .option(
      '--admission-deny <id-or-key...>',
      'refuse these NodeIds or public keys whatever else admits them (revocation; repeatable)',
    )
    .option(
      '--admission-ca <file...>',
      'admit members with a certificate of this cluster CA (the ca.pub of `shoal ca create`; repeatable)',
    )
    .option(
      '--admission-cert <file>',
      "this node's certificate (from `shoal ca sign`); needs --admission-ca",
    )
    .option('--worker-listen <host:port>', "worker-server: the workers' gRPC listener")
    .option(
      '--worker-ca-dir <dir>',
      "worker-server: this server's worker CA (default <data-dir>/worker-ca)",
    )
    .option('--servers <host:port...>', "worker: the worker-servers' --worker-listen addresses")
    .option('--token-file <file>', 'worker: the bootstrap token (from `shoal token create`)')
    .option(
      '--identity-dir <dir>',
      "worker: the worker's key and certificate (default <data-dir>/worker-identity)",
    )
    .action(async (flags: Record<string, unknown>) => {
      const config = resolveAgentConfig(flags, process.env);
      const code = await runAgent(config);
      if (code !== 0) throw new ExitCode(code);
    });
}

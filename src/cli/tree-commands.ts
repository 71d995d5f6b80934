/**
 * `shoal tree show|set|delete|proof` (issue 16; docs/cli.md, "Shared trees"): clients of a
 * running agent's tree routes (src/agent/data-routes.ts). `show` lists the trees held (or one
 * tree's root, size and shape); `set` and `delete` write through this agent (bearer token);
 * `proof` prints the proof of a key's entry and, with `--verify`, checks it against a root
 * fetched on its own: this agent's (`GET /v1/trees/<name>`), another agent's (`--root-from`), or
 * one given (`--root`). A proof that does not verify exits 1, for scripts.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ShoalError } from '../base/errors.js';
import { fromHex } from '../base/hex.js';
import {
  treeProofFromJson,
  verifyTreeProof,
  type TreeInfo,
  type TreeProofJson,
} from '../node/data-tree.js';
import { agentFetch, agentRequest } from './agent-client.js';
import { ExitCode } from './agent-command.js';
import {
  clientOptions,
  formatTable,
  withClientFlags,
  type ClientFlags,
} from './client-commands.js';

const TOKEN_FLAG_HELP = 'bearer token, if the agent requires one (env SHOAL_HTTP_TOKEN)';

/** The path of `key` in tree `name` under /v1/trees (each part percent-encoded). */
function keyPath(name: string, key: string, proof = false): string {
  return `/v1/trees/${encodeURIComponent(name)}/${proof ? 'proof/' : ''}${encodeURIComponent(key)}`;
}

/** The value to write: VALUE as UTF-8, or the bytes of --file (exactly one of them). */
function valueOf(text: string | undefined, file: string | undefined): Uint8Array {
  if (file === undefined) {
    if (text === undefined)
      throw new ShoalError('ERR_INVALID_ARGUMENT', 'give the value as VALUE or --file PATH');
    return new TextEncoder().encode(text);
  }
  if (text !== undefined)
    throw new ShoalError('ERR_INVALID_ARGUMENT', 'give VALUE or --file PATH, not both');
  try {
    return new Uint8Array(readFileSync(file));
  } catch (err) {
    throw new ShoalError('ERR_INVALID_ARGUMENT', `--file ${file}: ${(err as Error).message}`);
  }
}

export function formatTrees(trees: readonly TreeInfo[]): string {
  if (trees.length === 0) return 'no trees held\n';
  return formatTable([
    ['TREE', 'SIZE', 'ENTRIES', 'DEPTH', 'ROOT'],
    ...trees.map((t) => [t.name, String(t.size), String(t.entries), String(t.depth), t.root]),
  ]);
}

export function formatTree(t: TreeInfo): string {
  return [
    `tree ${t.name}`,
    `root ${t.root}`,
    `size ${t.size} keys (${t.entries} entries, ${t.tombstones} tombstones, ${t.bytes} bytes)`,
    `shape fanout ${t.fanout}, depth ${t.depth} (${t.buckets} buckets)`,
    '',
  ].join('\n');
}

/** One line about a proof: what it shows. */
function describeProof(p: TreeProofJson): string {
  const e = p.entry;
  if (e === null) return `${p.key}: absent from tree ${p.tree}`;
  if (e.deleted) return `${p.key}: deleted at ${e.hlc.wallMs}.${e.hlc.logical} by ${e.writer}`;
  const value = e.encoding === 'base64' ? `(base64) ${e.value}` : JSON.stringify(e.value);
  return `${p.key} = ${value}, written at ${e.hlc.wallMs}.${e.hlc.logical} by ${e.writer}`;
}

export function registerTreeCommands(program: Command, write: (text: string) => void): void {
  const tree = program
    .command('tree')
    .description('shared trees: key sets every member holds, synced by Merkle anti-entropy');
  withClientFlags(
    tree.command('show').description("print the trees held, or one tree's root, size and shape"),
    true,
  )
    .argument('[name]', 'the tree; without it, every tree held')
    .action(async (name: string | undefined, flags: ClientFlags) => {
      const options = clientOptions(flags);
      if (name === undefined) {
        const answer = await agentRequest<{ trees: TreeInfo[] }>(options, 'GET', '/v1/trees');
        return write(flags.json ? `${JSON.stringify(answer)}\n` : formatTrees(answer.trees));
      }
      const answer = await agentRequest<TreeInfo>(
        options,
        'GET',
        `/v1/trees/${encodeURIComponent(name)}`,
      );
      write(flags.json ? `${JSON.stringify(answer)}\n` : formatTree(answer));
    });
  withClientFlags(
    tree.command('set').description('set KEY to VALUE in tree NAME (opened when new)'),
    true,
  )
    .argument('<name>', 'the tree')
    .argument('<key>', 'the key')
    .argument('[value]', 'the value as UTF-8 text')
    .option('--file <path>', 'take the value bytes from a file instead')
    .option('--http-token <token>', TOKEN_FLAG_HELP)
    .action(
      async (
        name: string,
        key: string,
        text: string | undefined,
        flags: ClientFlags & { file?: string },
      ) => {
        const response = await agentFetch(clientOptions(flags), {
          method: 'PUT',
          path: keyPath(name, key),
          bytes: valueOf(text, flags.file),
        });
        const answer = (await response.json()) as {
          entry: { hlc: { wallMs: number; logical: number } };
          root: string;
        };
        if (flags.json) return write(`${JSON.stringify(answer)}\n`);
        write(
          `set ${key} at ${answer.entry.hlc.wallMs}.${answer.entry.hlc.logical}; root ${answer.root}\n`,
        );
      },
    );
  withClientFlags(tree.command('delete').description('delete KEY from tree NAME'), true)
    .argument('<name>', 'the tree')
    .argument('<key>', 'the key')
    .option('--http-token <token>', TOKEN_FLAG_HELP)
    .action(async (name: string, key: string, flags: ClientFlags) => {
      const response = await agentFetch(clientOptions(flags), {
        method: 'DELETE',
        path: keyPath(name, key),
      });
      const answer = (await response.json()) as { deleted: boolean; root: string };
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      write(
        `${answer.deleted ? 'deleted' : 'no value to delete at'} ${key}; root ${answer.root}\n`,
      );
    });
  withClientFlags(
    tree
      .command('proof')
      .description(
        "print the proof of KEY's entry (or absence) in tree NAME; --verify checks it against a root",
      ),
    true,
  )
    .argument('<name>', 'the tree')
    .argument('<key>', 'the key')
    .option('--verify', 'check the proof against a root fetched on its own (exit 1 if it fails)')
    .option('--root <hex>', 'with --verify: the root to check against (64 hex digits)')
    .option('--root-from <host:port>', "with --verify: take the root from this agent's HTTP API")
    .action(
      async (
        name: string,
        key: string,
        flags: ClientFlags & { verify?: boolean; root?: string; rootFrom?: string },
      ) => {
        const options = clientOptions(flags);
        const json = await agentRequest<TreeProofJson>(options, 'GET', keyPath(name, key, true));
        if (flags.verify !== true) {
          if (flags.json) return write(`${JSON.stringify(json)}\n`);
          return write(`${describeProof(json)}\nroot ${json.root}\n`);
        }
        let rootHex = flags.root;
        if (rootHex === undefined) {
          const from =
            flags.rootFrom === undefined ? options : { ...options, http: flags.rootFrom };
          rootHex = (
            await agentRequest<TreeInfo>(from, 'GET', `/v1/trees/${encodeURIComponent(name)}`)
          ).root;
        }
        if (!/^[0-9a-f]{64}$/.test(rootHex))
          throw new ShoalError('ERR_INVALID_ARGUMENT', `--root ${rootHex}: must be 64 hex digits`);
        const ok = verifyTreeProof(fromHex(rootHex), treeProofFromJson(json));
        if (flags.json) write(`${JSON.stringify({ verified: ok, root: rootHex, proof: json })}\n`);
        else
          write(
            ok
              ? `verified: ${describeProof(json)}\nunder root ${rootHex}\n`
              : `NOT verified: the proof does not lead to root ${rootHex}${json.root === rootHex ? '' : ` (it leads to ${json.root}: the tree changed between the two reads, or the replicas differ)`}\n`,
          );
        if (!ok) throw new ExitCode(1);
      },
    );
}

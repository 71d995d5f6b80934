/**
 * Agent configuration: precedence (file < SHOAL_* env < flags) and every validation path. A bad
 * value is ERR_INVALID_CONFIG whose message names the field, its source, the value and what is
 * allowed; `shoal agent` turns it into exit status 2.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { envNameOf, resolveAgentConfig } from '../../src/agent/config-layers.js';
import { generateKey } from '../../src/transport/keyring.js';
import { main } from '../../src/cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-agent-config-'));
let fileCount = 0;

function configFile(text: string): string {
  const path = join(dir, `agent-${fileCount++}.yaml`);
  writeFileSync(path, text);
  return path;
}

function errorOf(run: () => unknown): { code?: unknown; message: string } {
  try {
    run();
  } catch (err) {
    return err as { code?: unknown; message: string };
  }
  throw new Error('expected an error');
}

describe('agent config precedence', () => {
  const file = configFile(
    'name: from-file\nhttp: 127.0.0.1:1001\nbind: 127.0.0.1:2001\nprofile: wan\nlabels: { zone: a, rack: r1 }\n',
  );

  it('uses the file when nothing overrides it', () => {
    const config = resolveAgentConfig({ config: file }, {});
    expect(config.node.name).toBe('from-file');
    expect(config.http).toBe('127.0.0.1:1001');
    expect(config.node.profile).toBe('wan');
    expect(config.node.dataDir).toBe(join('data', 'from-file'));
  });

  it('env overrides the file, flags override env; labels merge key by key', () => {
    const env = {
      SHOAL_HTTP: '127.0.0.1:1002',
      SHOAL_BIND: '127.0.0.1:2002',
      SHOAL_LABELS: 'zone=b,env=prod',
    };
    const config = resolveAgentConfig(
      { config: file, http: '127.0.0.1:1003', label: ['zone=c'] },
      env,
    );
    expect(config.http).toBe('127.0.0.1:1003');
    expect(config.node.bind).toBe('127.0.0.1:2002');
    expect(config.node.labels).toEqual({ zone: 'c', rack: 'r1', env: 'prod' });
  });

  it('reads the file named by SHOAL_CONFIG and comma lists from env', () => {
    const config = resolveAgentConfig(
      {},
      { SHOAL_CONFIG: file, SHOAL_JOIN: '127.0.0.1:3001, 127.0.0.1:3002' },
    );
    expect(config.node.name).toBe('from-file');
    expect(config.node.mode).toEqual({ kind: 'swim', seeds: ['127.0.0.1:3001', '127.0.0.1:3002'] });
  });

  it('takes the benchmark-only --fsync-delay-ms (flag or env) into the node options; refuses a bad one', () => {
    expect(resolveAgentConfig({ name: 'n' }, {}).node.fsyncDelayMs).toBeUndefined();
    expect(resolveAgentConfig({ name: 'n', fsyncDelayMs: '10' }, {}).node.fsyncDelayMs).toBe(10);
    expect(resolveAgentConfig({ name: 'n' }, { SHOAL_FSYNC_DELAY_MS: '3' }).node.fsyncDelayMs).toBe(
      3,
    );
    for (const bad of ['-1', '1.5', 'slow', '10001'])
      expect(() => resolveAgentConfig({ name: 'n', fsyncDelayMs: bad }, {})).toThrow(/fsync/i);
  });

  it('maps modes: --join to swim seeds, --peers to static peers, single alone', () => {
    expect(
      resolveAgentConfig({ name: 'n', mode: 'static', peers: ['127.0.0.1:1', '127.0.0.1:2'] }, {})
        .node.mode,
    ).toEqual({ kind: 'static', peers: ['127.0.0.1:1', '127.0.0.1:2'] });
    expect(resolveAgentConfig({ name: 'n', mode: 'single' }, {}).node.mode).toEqual({
      kind: 'single',
    });
    expect(
      resolveAgentConfig(
        {
          name: 'n',
          mode: 'raft-lite',
          peers: ['127.0.0.1:1'],
          join: ['127.0.0.1:2', '127.0.0.1:1'],
        },
        {},
      ).node.mode,
    ).toEqual({ kind: 'raft-lite', peers: ['127.0.0.1:1', '127.0.0.1:2'] });
    const file = configFile(
      'name: n\nmode: static\npeers: [127.0.0.1:1]\nmodeOptions: { failureThresholdMs: 3000 }\n',
    );
    expect(resolveAgentConfig({ config: file }, {}).node.mode).toEqual({
      kind: 'static',
      peers: ['127.0.0.1:1'],
      failureThresholdMs: 3000,
    });
    expect(resolveAgentConfig({ name: 'n' }, {}).node.mode).toEqual({ kind: 'swim', seeds: [] });
  });

  it('reads keys from --key or from a keyring file', () => {
    const [k1, k2] = [generateKey(), generateKey()];
    expect(resolveAgentConfig({ name: 'n', key: [k1] }, {}).node.keyring).toEqual([k1]);
    const keyringFile = configFile(`# primary first\n${k2}\n\n${k1}\n`);
    expect(resolveAgentConfig({ name: 'n', keyringFile }, {}).node.keyring).toEqual([k2, k1]);
  });

  it('derives env names from field names', () => {
    expect(envNameOf('dataDir')).toBe('SHOAL_DATA_DIR');
    expect(envNameOf('httpToken')).toBe('SHOAL_HTTP_TOKEN');
  });
});

describe('agent config validation', () => {
  const cases: Array<
    [what: string, flags: Record<string, unknown>, env: Record<string, string>, expected: RegExp]
  > = [
    ['bad flag address', { http: 'nope' }, {}, /http \(from --http\) "nope": must be host:port/],
    [
      'bad env address',
      {},
      { SHOAL_BIND: '1.2.3.4:99999' },
      /bind \(from SHOAL_BIND\) "1.2.3.4:99999": must be host:port/,
    ],
    ['unknown mode', { mode: 'paxos' }, {}, /mode \(from --mode\) "paxos": .*"single".*"swim"/],
    [
      'bad profile',
      {},
      { SHOAL_PROFILE: 'fast' },
      /profile \(from SHOAL_PROFILE\) "fast": .*"lan"/,
    ],
    ['bad log level', { logLevel: 'loud' }, {}, /logLevel \(from --log-level\) "loud": .*"info"/],
    [
      'bad name',
      { name: 'has space' },
      {},
      /name \(from --name\) "has space": must be 1-128 letters/,
    ],
    [
      'short token',
      { httpToken: 'short' },
      {},
      /httpToken \(from --http-token\) "short": must be at least 16 characters/,
    ],
    [
      'bad label',
      { label: ['novalue'] },
      {},
      /labels \(from --label\) "novalue": each label must be key=value/,
    ],
    [
      'bad key',
      { key: ['abc'] },
      {},
      /keyring.0 \(from --key\) "abc": must be a base64-encoded 32-byte key/,
    ],
    [
      'peers outside static modes',
      { peers: ['127.0.0.1:1'] },
      {},
      /peers \(from --peers\) \["127.0.0.1:1"\]: only used by mode static, raft-lite, raft or worker-server, but mode is swim/,
    ],
    [
      'worker fields outside their modes',
      { servers: ['127.0.0.1:1'] },
      {},
      /servers \(from --servers\) \["127.0.0.1:1"\]: only used by mode worker, but mode is swim/,
    ],
    [
      'a worker listener outside worker-server',
      { mode: 'raft', peers: ['127.0.0.1:1'], workerListen: '127.0.0.1:2' },
      {},
      /workerListen \(from --worker-listen\) "127.0.0.1:2": only used by mode worker-server, but mode is raft/,
    ],
    [
      'join in single mode',
      { mode: 'single', join: ['127.0.0.1:1'] },
      {},
      /join \(from --join\) \["127.0.0.1:1"\]: only used by mode swim, raft-lite or raft/,
    ],
    [
      'bad join address',
      { join: ['127.0.0.1'] },
      {},
      /join.0 \(from --join\) "127.0.0.1": must be host:port/,
    ],
    [
      'both keys and keyring file',
      { key: [generateKey()], keyringFile: '/x' },
      {},
      /keyringFile \(from --keyring-file\) "\/x": give either keyring/,
    ],
    [
      'missing keyring file',
      { keyringFile: join(dir, 'missing-keys') },
      {},
      /keyringFile .*: cannot be read \(ENOENT\)/,
    ],
    [
      'missing config file',
      { config: join(dir, 'missing.yaml') },
      {},
      /config file .*missing.yaml cannot be read \(ENOENT\)/,
    ],
  ];
  for (const [what, flags, env, expected] of cases) {
    it(`refuses ${what}`, () => {
      const err = errorOf(() => resolveAgentConfig({ name: 'n', ...flags }, env));
      expect(err.code).toBe('ERR_INVALID_CONFIG');
      expect(err.message).toMatch(expected);
    });
  }

  it('refuses an unknown field, a wrong type and invalid YAML in the file', () => {
    const unknown = errorOf(() =>
      resolveAgentConfig({ config: configFile('name: a\nbindd: 127.0.0.1:1\n') }, {}),
    );
    expect(unknown.message).toMatch(
      /bindd \(from .*\.yaml\) "127.0.0.1:1": unknown field; allowed: name, dataDir, bind/,
    );
    const wrongType = errorOf(() =>
      resolveAgentConfig({ config: configFile('name: a\njoin: 127.0.0.1:1\n') }, {}),
    );
    expect(wrongType.message).toMatch(/join \(from .*\.yaml\) "127.0.0.1:1": .*expected array/);
    const badYaml = errorOf(() => resolveAgentConfig({ config: configFile('name: [a\n') }, {}));
    expect(badYaml.message).toMatch(/is not valid YAML/);
    const notMapping = errorOf(() => resolveAgentConfig({ config: configFile('- a\n- b\n') }, {}));
    expect(notMapping.message).toMatch(/must be a YAML mapping/);
  });
});

describe('shoal agent exit status for bad config', () => {
  afterEach(() => vi.restoreAllMocks());

  function captureStderr(): string[] {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    return written;
  }

  it('exits 1 with one line naming the path when the data dir is unusable or the identity is bad', async () => {
    const notADir = configFile('a file, not a directory');
    let written = captureStderr();
    expect(
      await main([
        'node',
        'shoal',
        'agent',
        '--name',
        'n',
        '--bind',
        '127.0.0.1:0',
        '--data-dir',
        notADir,
      ]),
    ).toBe(1);
    expect(written.join('')).toMatch(new RegExp(`^shoal: cannot .*${notADir}.*\\n$`));
    const badIdentityDir = mkdtempSync(join(dir, 'bad-identity-'));
    writeFileSync(join(badIdentityDir, 'identity.json'), '{"format":"shoal-identity"');
    vi.restoreAllMocks();
    written = captureStderr();
    expect(
      await main([
        'node',
        'shoal',
        'agent',
        '--name',
        'n',
        '--bind',
        '127.0.0.1:0',
        '--data-dir',
        badIdentityDir,
      ]),
    ).toBe(1);
    expect(written.join('')).toMatch(/^shoal: identity file .*identity.json .*left untouched.*\n$/);
  });

  it('exits 2 with a one-line message naming field, value and what is allowed', async () => {
    const written = captureStderr();
    const code = await main(['node', 'shoal', 'agent', '--name', 'n', '--profile', 'fast']);
    expect(code).toBe(2);
    expect(written.join('')).toMatch(
      /^shoal: invalid config: profile \(from --profile\) "fast": .*"lan".*\n$/,
    );
  });

  it('passes a mode through to createNode, whose refusal of its fields also exits 2', async () => {
    const written = captureStderr();
    const code = await main([
      'node',
      'shoal',
      'agent',
      '--name',
      'n',
      '--mode',
      'static',
      '--data-dir',
      join(dir, 'static-node'),
    ]);
    expect(code).toBe(2);
    expect(written.join('')).toMatch(/^shoal: invalid node option mode.peers .*\n$/);
  });
});

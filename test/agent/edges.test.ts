/**
 * The agent's edges: YAML config files that are hostile or broken (alias cycles, alias bombs,
 * `__proto__` keys, deep nesting, duplicate keys), labels and addresses refused with the field,
 * its source and the value; join names resolved before start; join failures logged once per
 * distinct failure per interval; secret files open to others warned about; `/v1/health` while
 * not joined.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { resolveAgentAddresses } from '../../src/agent/config.js';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';
import { warnIfLoose } from '../../src/agent/key-files.js';
import { joinLogger, logNodeEvents } from '../../src/agent/logger.js';
import { buildAgentApp } from '../../src/agent/server.js';
import { IDENTITY_FILE_NAME, loadOrCreateIdentitySync } from '../../src/identity/identity.js';
import type { JoinEvent, SecurityEvent } from '../../src/node/events.js';
import { ScriptedNode } from './nodes.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-agent-edges-'));
let files = 0;
const agents: RunningAgent[] = [];

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop('test over')));
});

function configFile(text: string): string {
  const path = join(dir, `c${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

function refusal(run: () => unknown): { code?: string; message: string } {
  try {
    run();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('not refused');
}

/** A pino logger whose lines are collected as parsed objects. */
function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('hostile and broken YAML config files are exit-2 errors naming what is wrong', () => {
  it.each([
    [
      'an alias cycle in a mapping',
      'name: a\nlabels: &a\n  x: *a\n',
      /alias cycle: labels\.x refers back/,
    ],
    ['an alias cycle in a list', 'name: a\njoin: &a [*a]\n', /alias cycle: join\.0 refers back/],
    ['a flow alias cycle', 'name: a\nmodeOptions: &a {x: *a}\n', /alias cycle: modeOptions\.x/],
    [
      'an alias bomb',
      'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
      /Excessive alias count/,
    ],
    ['a top-level __proto__ key', '__proto__:\n  name: evil\n', /has the key __proto__, refused/],
    ['a __proto__ label', 'name: a\nlabels:\n  __proto__: x\n', /has the key labels\.__proto__/],
    [
      'deep nesting',
      `name: a\nmodeOptions: ${'['.repeat(40)}${']'.repeat(40)}\n`,
      /nests deeper than 32/,
    ],
    [
      'very deep nesting',
      `name: a\nmodeOptions: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      /nests/,
    ],
    ['a duplicate key', 'name: a\nname: b\n', /Map keys must be unique/],
  ])('%s', (_what, text, message) => {
    const err = refusal(() => resolveAgentConfig({ config: configFile(text) }, {}));
    expect(err.code).toBe('ERR_INVALID_CONFIG');
    expect(err.message).toMatch(message);
    expect(err.message.split('\n')).toHaveLength(1);
    expect(({} as Record<string, unknown>)['name']).toBeUndefined();
  });

  it('a YAML alias that is not a cycle still works', () => {
    const config = resolveAgentConfig(
      { config: configFile('name: a\njoin: &seeds [127.0.0.1:1]\npeers: []\nlabels: {zone: z}\n') },
      {},
    );
    expect(config.node.mode).toEqual({ kind: 'swim', seeds: ['127.0.0.1:1'] });
  });
});

describe('labels and addresses name the field, the source and the value', () => {
  it.each([
    [{ label: ['__proto__=x'] }, {}, /labels \(from --label\) "__proto__=x": the key "__proto__"/],
    [{}, { SHOAL_LABELS: 'zone=a,__proto__=x' }, /labels \(from SHOAL_LABELS\) "__proto__=x"/],
    [
      { bind: '999.1.1.1:1' },
      {},
      /bind \(from --bind\) "999\.1\.1\.1:1": .*"999\.1\.1\.1" is not an IP address/,
    ],
    [
      { bind: 'localhost:7946' },
      {},
      /bind \(from --bind\) "localhost:7946": must be an IP address/,
    ],
    [
      { http: 'localhost:7947' },
      {},
      /http \(from --http\) "localhost:7947": must be an IP address/,
    ],
    [{ join: ['999.1.1.1:1'] }, {}, /join\.0 \(from --join\) "999\.1\.1\.1:1": .*not a valid IPv4/],
    [{ join: ['-bad-:1'] }, {}, /join\.0 \(from --join\) "-bad-:1": .*is neither/],
  ])('%o %o', (flags, env, message) => {
    const err = refusal(() => resolveAgentConfig({ name: 'n', ...flags }, env));
    expect(err.code).toBe('ERR_INVALID_CONFIG');
    expect(err.message).toMatch(message);
  });

  it('resolves join names before start; one that does not resolve names join and its source', async () => {
    const config = resolveAgentConfig({ name: 'n', join: ['localhost:7946', '127.0.0.2:1'] }, {});
    expect((await resolveAgentAddresses(config)).node.mode).toEqual({
      kind: 'swim',
      seeds: ['127.0.0.1:7946', '127.0.0.2:1'],
    });
    const bad = resolveAgentConfig({ name: 'n' }, { SHOAL_JOIN: 'no-such-host.invalid:7946' });
    await expect(resolveAgentAddresses(bad)).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringMatching(
        /^invalid config: join \(from SHOAL_JOIN\) "no-such-host\.invalid:7946": the name/,
      ),
    });
  });
});

describe('join failures in the log', () => {
  const failure = (detail: string): JoinEvent => ({
    kind: 'join',
    by: 'retry',
    addresses: ['127.0.0.1:1'],
    ok: false,
    reason: 'unreachable',
    detail,
  });

  it('logs each distinct failure once per interval, then says how many were not logged', () => {
    const { log, lines } = capture();
    let now = 0;
    const node = {
      joinStatus: () => ({ joined: false, reason: 'unreachable', detail: 'x' }) as const,
    };
    const onJoin = joinLogger(node, log, 60_000, () => now);
    for (let i = 0; i < 5; i++) onJoin(failure('refused'));
    onJoin(failure('timed out'));
    expect(lines.map((l) => l['msg'])).toEqual([
      'join through 127.0.0.1:1 failed (unreachable): refused; not joined: no leader until a seed or member answers',
      'join through 127.0.0.1:1 failed (unreachable): timed out; not joined: no leader until a seed or member answers',
    ]);
    now = 60_000;
    onJoin(failure('refused'));
    expect(lines[2]?.['msg']).toMatch(/refused; not joined: .* \(4 more like it not logged\)$/);
    expect(lines.every((l) => l['level'] === 40)).toBe(true);
    onJoin({ kind: 'join', by: 'request', addresses: ['a:1', 'b:2'], ok: true, contacted: 2 });
    expect(lines[3]).toMatchObject({ level: 30, msg: 'joined through 2 of 2 addresses' });
  });
});

describe('security events in the log', () => {
  it('each is one warn line with its reason, detail and how many went unreported', () => {
    const { log, lines } = capture();
    const node = new ScriptedNode();
    const stop = logNodeEvents(node.asAgentNode(), log);
    const event = (reason: string, suppressed: number): SecurityEvent => ({
      kind: 'security',
      reason,
      detail: `alive record of 0123abcd@7: the signature does not verify`,
      suppressed,
    });
    node.emit('security', event('signature_invalid', 0));
    node.emit('security', event('signature_invalid', 41));
    stop();
    node.emit('security', event('signature_invalid', 0));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 40,
      event: 'security',
      reason: 'signature_invalid',
      suppressed: 0,
      msg: 'security: refused (signature_invalid): alive record of 0123abcd@7: the signature does not verify',
    });
    expect(lines[1]?.['msg']).toMatch(/does not verify \(41 more like it not logged\)$/);
  });
});

describe('secret files open to others', () => {
  it('warns naming the file, its mode and the chmod; owner-only files are quiet', () => {
    const file = join(dir, 'key-file');
    writeFileSync(file, 'secret', { mode: 0o600 });
    const { log, lines } = capture();
    expect(warnIfLoose(file, 'keyring file', log)).toBe(false);
    chmodSync(file, 0o644);
    expect(warnIfLoose(file, 'keyring file', log)).toBe(true);
    chmodSync(file, 0o620);
    expect(warnIfLoose(file, 'keyring file', log)).toBe(true);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, file, mode: '0644' });
    expect(lines[0]?.['msg']).toContain(`run chmod 600 ${file}`);
  });

  it('the agent warns at start when its identity file is readable by others', async () => {
    const dataDir = join(dir, 'loose-identity');
    loadOrCreateIdentitySync(dataDir);
    chmodSync(join(dataDir, IDENTITY_FILE_NAME), 0o644);
    const { lines } = capture();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const config = resolveAgentConfig(
      { name: 'loose', dataDir, bind: '127.0.0.1:0', http: '127.0.0.1:0', profile: 'local' },
      {},
    );
    agents.push(await startAgent(config, { logDestination: sink }));
    const warning = lines.find(
      (l) => l['level'] === 40 && String(l['msg']).includes('identity file'),
    );
    expect(warning).toMatchObject({ file: join(dataDir, IDENTITY_FILE_NAME), mode: '0644' });
  });
});

describe('/v1/health', () => {
  it('is 503 {status: not_joined, reason, detail} while not joined, 200 ok once joined', async () => {
    const node = new ScriptedNode();
    const app = buildAgentApp(node.asAgentNode());
    node.status = {
      joined: false,
      reason: 'wrong_cluster',
      detail: 'the node at a:1 belongs to "b"',
    };
    const down = await app.inject('/v1/health');
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.json()).toEqual({
      status: 'not_joined',
      reason: 'wrong_cluster',
      detail: 'the node at a:1 belongs to "b"',
    });
    node.status = { joined: true };
    expect((await app.inject('/v1/health')).json()).toEqual({ status: 'ok' });
    await app.close();
  });
});

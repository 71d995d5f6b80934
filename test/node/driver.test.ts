/**
 * The generic driver (src/node/driver.ts) over a toy protocol, on the simulator's clock, network
 * and disk: persist-before-send within and across steps, one write at a time with later writes
 * merged, fail-stop on a failed write, decode refusals counted and answered, one timer at or
 * before the core's deadline (a tick only once it is due), re-entrant inputs stepped after the
 * current one.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { hasErrorCode, type ShoalError } from '../../src/base/errors.js';
import type { Core, LogStore, Protocol, Ready, SendEffect } from '../../src/base/protocol.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';
import { ProtocolDriver } from '../../src/node/driver.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimNetwork } from '../../src/sim/network.js';
import { NO_DISK_FAULTS, SimStorage } from '../../src/sim/storage.js';
import { simAddress } from '../../src/sim/trace.js';
import { MemoryTransport } from '../../src/transport/memory.js';

const A = simAddress('a');
const B = simAddress('b');

interface ToyState {
  count: number;
  wakeAtMs: Millis | undefined;
  persistedSeen: number[];
}
type ToyInput =
  | { kind: 'bump'; now: Millis }
  | { kind: 'say'; now: Millis; text: string }
  | { kind: 'wake'; now: Millis; atMs: Millis }
  | { kind: 'receive'; now: Millis; text: string };
type ToyEffect = SendEffect<string> | { kind: 'heard'; text: string } | { kind: 'woke' };
interface ToyTypes {
  config: { peer: Address };
  persisted: number;
  state: ToyState;
  input: ToyInput;
  effect: ToyEffect;
  record: number;
  snapshot: number;
  message: string;
}

let peer: Address = B;

function ready(state: ToyState): Ready<ToyState, ToyEffect, number> {
  return { state, effects: [], persist: [], afterPersist: [] };
}

const toyCore: Core<ToyTypes> = {
  name: 'toy',
  inputKinds: ['tick', 'persisted', 'bump', 'say', 'wake', 'receive'],
  effectKinds: ['send', 'heard', 'woke'],
  init: (config, persisted) => {
    peer = config.peer;
    return { count: persisted, wakeAtMs: undefined, persistedSeen: [] };
  },
  step(state, input) {
    const out = ready(state);
    switch (input.kind) {
      case 'bump':
        state.count++;
        out.persist.push(state.count);
        out.afterPersist.push({
          kind: 'send',
          to: peer,
          channel: 'packet',
          message: `count ${state.count}`,
        });
        break;
      case 'say':
        // Depends on nothing new, but must not overtake a pending write of an earlier step.
        out.afterPersist.push({ kind: 'send', to: peer, channel: 'packet', message: input.text });
        break;
      case 'wake':
        state.wakeAtMs = input.atMs;
        break;
      case 'tick':
        if (state.wakeAtMs !== undefined && input.now >= state.wakeAtMs) {
          state.wakeAtMs = undefined;
          out.effects.push({ kind: 'woke' });
        }
        break;
      case 'persisted':
        state.persistedSeen.push(...input.records);
        break;
      case 'receive':
        out.effects.push({ kind: 'heard', text: input.text });
        break;
    }
    return out;
  },
  nextDeadline: (state) => state.wakeAtMs,
  describeInput: (input) => input.kind,
  describeEffect: (effect) => effect.kind,
  describeRecord: (record) => `count=${record}`,
  checkInvariants: (state) => (state.count < 0 ? ['negative count'] : []),
  snapshot: (state) => state.count,
  checkTransition: (before, after) => (after.count < before ? ['count went back'] : []),
};

function world(options: { diskBytesMax?: number } = {}) {
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: new Rng(1).fork('net'), link: { latencyMs: 1 } });
  const storage = new SimStorage({
    rng: new Rng(2),
    clock: clock.nodeClock(A),
    durableWriteDelayMinMs: 5,
    durableWriteDelayMaxMs: 5,
    ...options,
  });
  const heardByB: { text: string; atMs: number }[] = [];
  const b = new MemoryTransport(network, B);
  b.onReceive((_from, _channel, data) => {
    heardByB.push({ text: new TextDecoder().decode(data), atMs: clock.now() });
  });
  const outputs: string[] = [];
  const fatal: ShoalError[] = [];
  const protocol: Protocol<ToyTypes> = {
    core: toyCore,
    wire: {
      encode: (message) => new TextEncoder().encode(message),
      decode: (data, from, _channel, now) => {
        const text = new TextDecoder().decode(data);
        if (text.startsWith('bad'))
          return {
            ok: false,
            code: 'ERR_DECODE_MALFORMED',
            detail: 'starts with bad',
            reply: { to: from, channel: 'packet', data: new TextEncoder().encode('refused') },
          };
        return { ok: true, input: { kind: 'receive', now, text } };
      },
    },
    store: {
      load: (s) => Number(new TextDecoder().decode(s.read('toy') ?? new TextEncoder().encode('0'))),
      write: (record) => ({ path: 'toy', data: new TextEncoder().encode(String(record)) }),
    },
  };
  const driver = new ProtocolDriver<ToyTypes>({
    protocol,
    config: { peer: B },
    clock: clock.nodeClock(A),
    storage,
    rng: new Rng(3),
    transport: new MemoryTransport(network, A),
    onOutput: (effect) =>
      outputs.push(effect.kind === 'heard' ? `heard ${effect.text}` : effect.kind),
    checkInvariants: true,
    onFatal: (error) => fatal.push(error),
  });
  driver.start();
  const run = (untilMs: number): void => void clock.runUntil(untilMs, { eventsMax: 10_000 });
  return { clock, network, storage, driver, heardByB, outputs, fatal, run, b };
}

describe('ProtocolDriver', () => {
  it("sends what depends on a write only once it is durable, and a later step's send waits behind it too", () => {
    const w = world();
    w.driver.input({ kind: 'bump', now: w.clock.now() });
    w.driver.input({ kind: 'say', now: w.clock.now(), text: 'after' });
    expect(w.storage.read('toy')).toBeUndefined();
    w.run(4);
    expect(w.heardByB).toEqual([]);
    w.run(10);
    expect(new TextDecoder().decode(w.storage.read('toy'))).toBe('1');
    expect(w.heardByB).toEqual([
      { text: 'count 1', atMs: 6 },
      { text: 'after', atMs: 6 },
    ]);
    expect(w.driver.state.persistedSeen).toEqual([1]);
  });

  it('with no write pending, an afterPersist send goes at once', () => {
    const w = world();
    w.driver.input({ kind: 'say', now: w.clock.now(), text: 'now' });
    w.run(1);
    expect(w.heardByB).toEqual([{ text: 'now', atMs: 1 }]);
  });

  it('writes one at a time: steps during a write merge into one waiting write, whose last record wins', () => {
    const w = world();
    for (let i = 0; i < 4; i++) w.driver.input({ kind: 'bump', now: w.clock.now() });
    expect(w.driver.writesPending).toBe(2);
    w.run(5);
    expect(new TextDecoder().decode(w.storage.read('toy'))).toBe('1');
    w.run(20);
    expect(new TextDecoder().decode(w.storage.read('toy'))).toBe('4');
    expect(w.driver.counters.writes).toBe(2);
    expect(w.heardByB.map((h) => h.text)).toEqual(['count 1', 'count 2', 'count 3', 'count 4']);
    expect(w.driver.state.persistedSeen).toEqual([1, 2, 3, 4]);
  });

  it('a crash before the write finished loses it whole, and nothing that waited on it was sent', () => {
    const w = world();
    w.driver.input({ kind: 'bump', now: w.clock.now() });
    w.run(2);
    w.network.crash(A);
    w.storage.crash();
    w.run(50);
    expect(w.storage.read('toy')).toBeUndefined();
    expect(w.heardByB).toEqual([]);
  });

  it('a failed write stops the driver and reports it; the waiting send never leaves', () => {
    const w = world({ diskBytesMax: 0 });
    w.driver.input({ kind: 'bump', now: w.clock.now() });
    w.run(20);
    expect(w.fatal).toHaveLength(1);
    expect(hasErrorCode(w.fatal[0], 'ERR_STORAGE_IO')).toBe(true);
    expect(w.driver.isStopped).toBe(true);
    expect(w.driver.counters.writeErrors).toBe(1);
    expect(w.heardByB).toEqual([]);
    expect(w.driver.input({ kind: 'bump', now: w.clock.now() })).toEqual([]);
  });

  it("counts an undecodable payload by its code, sends the refusal's reply, and steps nothing", () => {
    const w = world();
    w.b.sendPacket(A, new TextEncoder().encode('bad bytes'));
    w.b.sendPacket(A, new TextEncoder().encode('fine'));
    w.run(10);
    expect(w.driver.decodeErrors).toEqual({ ERR_DECODE_MALFORMED: 1 });
    expect(w.heardByB.map((h) => h.text)).toEqual(['refused']);
    expect(w.outputs).toEqual(['heard fine']);
  });

  it("keeps one timer at the core's next deadline and feeds a tick there", () => {
    const w = world();
    w.driver.input({ kind: 'wake', now: w.clock.now(), atMs: ms(30) });
    w.driver.input({ kind: 'wake', now: w.clock.now(), atMs: ms(12) });
    w.run(11);
    expect(w.outputs).toEqual([]);
    w.run(12);
    expect(w.outputs).toEqual(['woke']);
    expect(w.clock.pendingEvents()).toBe(0);
  });

  it('keeps the timer armed when the deadline moves later: the early firing re-arms it and steps nothing', () => {
    const w = world();
    w.driver.input({ kind: 'wake', now: w.clock.now(), atMs: ms(12) });
    w.driver.input({ kind: 'wake', now: w.clock.now(), atMs: ms(30) });
    expect(w.clock.pendingEvents()).toBe(1);
    const steps = w.driver.counters.steps;
    w.run(29);
    expect(w.outputs).toEqual([]);
    expect(w.driver.counters.steps).toBe(steps);
    expect(w.clock.pendingEvents()).toBe(1);
    w.run(30);
    expect(w.outputs).toEqual(['woke']);
    expect(w.clock.pendingEvents()).toBe(0);
  });

  it('steps an input that arrives from inside an output callback after the current step, not within it', () => {
    const clock = new SimClock();
    const order: string[] = [];
    const late: { driver?: ProtocolDriver<ToyTypes> } = {};
    const driver = new ProtocolDriver<ToyTypes>({
      protocol: { core: toyCore },
      config: { peer: B },
      clock,
      storage: new SimStorage({ rng: new Rng(1), clock }),
      rng: new Rng(1),
      onOutput: (effect) => {
        order.push(`out ${effect.kind}`);
        if (effect.kind === 'heard' && effect.text === 'first') {
          expect(late.driver?.input({ kind: 'receive', now: clock.now(), text: 'second' })).toEqual(
            [],
          );
          order.push('returned');
        }
      },
    });
    late.driver = driver;
    driver.input({ kind: 'receive', now: clock.now(), text: 'first' });
    expect(order).toEqual(['out heard', 'returned', 'out heard']);
    expect(driver.counters.inputsDeferred).toBe(1);
  });

  it('checks the invariants after every step and throws an AssertionError naming the protocol', () => {
    const w = world();
    w.driver.state.count = -5;
    expect(() => w.driver.input({ kind: 'say', now: w.clock.now(), text: 'x' })).toThrow(
      /toy invariant: negative count/,
    );
  });
});

/**
 * A toy log store over SimStorage's log-file operations: each batch is appended at the end of
 * one preallocated file with one `writeAtDurable`, one number per byte. Enough to check what the
 * driver promises a log store (one batch per job, group commit, persist-before-send, fail-stop,
 * close on stop); the real WAL is tested in test/raft/.
 */
function toyLog(storage: SimStorage) {
  const batches: number[][] = [];
  let offset = 0;
  let closed = 0;
  if (storage.read('log') === undefined) {
    storage.writeFile('log', new Uint8Array(64));
    storage.fsync('log');
    storage.fsyncDir('');
  }
  const store: LogStore<number, number> = {
    kind: 'log',
    open: (s) => ({
      persisted: (s.read('log') ?? new Uint8Array()).reduce((a, b) => Math.max(a, b), 0),
      notes: ['toy log opened'],
      log: {
        append: (records, done) => {
          batches.push([...records]);
          const at = offset;
          offset += records.length;
          storage.writeAtDurable('log', at, new Uint8Array(records), done);
        },
        close: () => void closed++,
        counters: () => ({ batches: batches.length }),
      },
    }),
  };
  return { store, batches, closed: () => closed };
}

describe('ProtocolDriver with a log store', () => {
  function logWorld(options: { diskBytesMax?: number } = {}) {
    const base = world(options);
    const log = toyLog(base.storage);
    const notices: string[] = [];
    const fatal: ShoalError[] = [];
    const network = base.network;
    const driver = new ProtocolDriver<ToyTypes>({
      protocol: {
        core: toyCore,
        wire: {
          encode: (message) => new TextEncoder().encode(message),
          decode: (data, _from, _channel, now) => ({
            ok: true,
            input: { kind: 'receive', now, text: new TextDecoder().decode(data) },
          }),
        },
        store: log.store,
      },
      config: { peer: B },
      clock: base.clock.nodeClock(simAddress('c')),
      storage: base.storage,
      rng: new Rng(3),
      transport: new MemoryTransport(network, simAddress('c')),
      onOutput: () => undefined,
      checkInvariants: true,
      onNotice: (line) => notices.push(line),
      onFatal: (error) => fatal.push(error),
    });
    return { ...base, driver, log, notices, fatal };
  }

  it('appends each job as one batch: steps during a sync merge into the next batch (group commit)', () => {
    const w = logWorld();
    expect(w.notices).toEqual(['toy log opened']);
    for (let i = 0; i < 5; i++) w.driver.input({ kind: 'bump', now: w.clock.now() });
    expect(w.log.batches).toEqual([[1]]);
    w.run(5);
    expect(w.log.batches).toEqual([[1], [2, 3, 4, 5]]);
    w.run(20);
    expect(w.driver.counters).toMatchObject({ writes: 2, persistedRecords: 5 });
    expect(w.driver.stats().log).toEqual({ batches: 2 });
    expect(w.driver.state.persistedSeen).toEqual([1, 2, 3, 4, 5]);
    expect(w.heardByB.map((h) => h.text)).toEqual([
      'count 1',
      'count 2',
      'count 3',
      'count 4',
      'count 5',
    ]);
    expect([...(w.storage.read('log') ?? [])].slice(0, 6)).toEqual([1, 2, 3, 4, 5, 0]);
  });

  it('sends what waited on a batch only once it is durable; a crash before loses both', () => {
    const w = logWorld();
    w.driver.input({ kind: 'bump', now: w.clock.now() });
    w.driver.input({ kind: 'say', now: w.clock.now(), text: 'after' });
    w.run(4);
    expect(w.heardByB).toEqual([]);
    w.network.crash(simAddress('c'));
    w.storage.crash();
    w.run(50);
    expect(w.heardByB).toEqual([]);
    expect(w.storage.read('log')?.[0]).toBe(0);
  });

  it('a failed batch stops the driver, closes the log, and nothing that waited is sent', () => {
    const w = logWorld();
    w.storage.setFaults({ ...NO_DISK_FAULTS, eioPpm: 1_000_000 });
    w.driver.input({ kind: 'bump', now: w.clock.now() });
    w.run(20);
    expect(w.fatal.map((e) => e.code)).toEqual(['ERR_STORAGE_IO']);
    expect(w.driver.isStopped).toBe(true);
    expect(w.log.closed()).toBe(1);
    expect(w.heardByB).toEqual([]);
    w.driver.stop();
    expect(w.log.closed()).toBe(1);
  });

  it('boots from what the log store read back', () => {
    const w = logWorld();
    for (let i = 0; i < 3; i++) w.driver.input({ kind: 'bump', now: w.clock.now() });
    w.run(30);
    w.driver.stop();
    const again = new ProtocolDriver<ToyTypes>({
      protocol: { core: toyCore, store: toyLog(w.storage).store },
      config: { peer: B },
      clock: w.clock,
      storage: w.storage,
      rng: new Rng(1),
      onOutput: () => undefined,
    });
    expect(again.state.count).toBe(3);
  });
});

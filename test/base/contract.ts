/**
 * The protocol contract suite (src/base/protocol.ts): every core must pass it, as every transport
 * passes the transport compliance suite. Over seeded random input sequences, with `tick`s at the
 * core's own deadlines (time never passes one without its tick, as under the driver) and
 * `persisted` inputs for its writes as the driver would give them:
 *
 * - determinism: the same seed gives the same inputs, the same effects and the same records;
 * - `nextDeadline` is never before the `now` of the step just taken, and after a tick it is later
 *   (a deadline a tick leaves due would make the driver spin);
 * - `describe*` gives one non-empty line for every input, effect and record, and the declared
 *   kinds are exactly the kinds seen (the fixture's samples cover the rare ones);
 * - `checkInvariants` and `checkTransition` hold after every step.
 */
import { expect, it } from 'vitest';
import type { Core, CoreInput, ProtocolTypes } from '../../src/base/protocol.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';

export interface ContractFixture<T extends ProtocolTypes> {
  core: Core<T>;
  config: () => T['config'];
  persisted: () => T['persisted'];
  /** A random input other than `tick` and `persisted` (the suite makes those), at `now`. */
  randomInput: (rng: Rng, state: T['state'], now: Millis) => T['input'];
  /** Effects of every kind, for the kinds a random run may not reach; checked by describe too. */
  sampleEffects: readonly T['effect'][];
  /** Inputs of kinds the generator never makes on its own, if any. */
  sampleInputs?: readonly T['input'][];
  steps?: number;
  seeds?: readonly number[];
}

interface Run {
  lines: string[];
  inputKinds: Set<string>;
  effectKinds: Set<string>;
}

const oneLine = (text: string): boolean => text.length > 0 && !text.includes('\n');

/** One seeded run: random inputs and deadline ticks, `persisted` for pending writes. */
function runOnce<T extends ProtocolTypes>(f: ContractFixture<T>, seed: number): Run {
  const rng = new Rng(seed);
  const inputs = rng.fork('inputs');
  let now = ms(1_000);
  const state = f.core.init(f.config(), f.persisted(), { now, rng: rng.fork('core') });
  const run: Run = { lines: [], inputKinds: new Set(), effectKinds: new Set() };
  let pending: T['record'][] = [];
  for (let i = 0; i < (f.steps ?? 400); i++) {
    const deadline = f.core.nextDeadline(state);
    let input: CoreInput<T>;
    const choice = inputs.int(10);
    if (pending.length > 0 && choice < 3) {
      input = { kind: 'persisted', now, records: pending };
      pending = [];
    } else {
      // As the driver runs a core: time never passes a deadline without a tick there.
      const targetMs = choice < 6 && deadline !== undefined ? deadline : now + inputs.int(50);
      if (deadline !== undefined && targetMs >= deadline) {
        now = ms(Math.max(now, deadline));
        input = { kind: 'tick', now };
      } else {
        now = ms(targetMs);
        input = f.randomInput(inputs, state, now);
      }
    }
    const before = f.core.snapshot(state);
    const ready = f.core.step(state, input, { rng: rng.fork(`step/${i}`) });
    expect(ready.state).toBe(state);
    const broken = [
      ...f.core.checkInvariants(state),
      ...f.core.checkTransition(before, state, input),
    ];
    expect(broken, `after step ${i} (${f.core.describeInput(input)}), seed ${seed}`).toEqual([]);
    const next = f.core.nextDeadline(state);
    if (next !== undefined)
      expect(
        next,
        `nextDeadline after step ${i} (${f.core.describeInput(input)})`,
      ).toBeGreaterThanOrEqual(input.now);
    // A tick does everything that was due: a deadline left at `now` would make the driver spin.
    if (next !== undefined && input.kind === 'tick')
      expect(next, `nextDeadline after tick ${i} at ${input.now}`).toBeGreaterThan(input.now);
    run.inputKinds.add(input.kind);
    run.lines.push(`in ${f.core.describeInput(input)}`);
    for (const e of ready.effects) run.lines.push(`out ${f.core.describeEffect(e)}`);
    for (const r of ready.persist) run.lines.push(`persist ${f.core.describeRecord(r)}`);
    for (const e of ready.afterPersist) run.lines.push(`after ${f.core.describeEffect(e)}`);
    for (const e of [...ready.effects, ...ready.afterPersist]) run.effectKinds.add(e.kind);
    pending.push(...ready.persist);
  }
  return run;
}

export function protocolContract<T extends ProtocolTypes>(f: ContractFixture<T>): void {
  const seeds = f.seeds ?? [1, 2, 3, 4, 5];

  it('is deterministic: the same seed gives the same inputs, effects and records', () => {
    for (const seed of seeds) expect(runOnce(f, seed).lines).toEqual(runOnce(f, seed).lines);
  });

  it('keeps its invariants after every step and never sets a deadline in the past', () => {
    for (const seed of seeds) runOnce(f, seed * 7919);
  });

  it('describes every input, effect and record in one line, and declares exactly the kinds it has', () => {
    const inputKinds = new Set<string>();
    const effectKinds = new Set<string>();
    for (const seed of seeds) {
      const run = runOnce(f, seed);
      for (const k of run.inputKinds) inputKinds.add(k);
      for (const k of run.effectKinds) effectKinds.add(k);
      for (const line of run.lines) expect(oneLine(line), line).toBe(true);
    }
    for (const input of f.sampleInputs ?? []) {
      inputKinds.add(input.kind);
      expect(oneLine(f.core.describeInput(input))).toBe(true);
    }
    for (const effect of f.sampleEffects) {
      effectKinds.add(effect.kind);
      expect(oneLine(f.core.describeEffect(effect))).toBe(true);
    }
    expect([...inputKinds].sort()).toEqual([...f.core.inputKinds].sort());
    expect([...effectKinds].sort()).toEqual([...f.core.effectKinds].sort());
  });
}

/**
 * `static` as the generic driver runs it (src/base/protocol.ts): the core, its wire (election
 * messages in the envelope) and its store (the fencing term, `election/static-term`, decimal).
 */
import {
  kinds,
  type Core,
  type CoreInput,
  type Protocol,
  type Store,
} from '../../base/protocol.js';
import { counterFileStore } from '../../base/persisted.js';
import { term, type Term } from '../../base/units.js';
import { electionWire } from '../wire.js';
import { describeEffect, describeInput, describeRecord } from './describe.js';
import { checkInvariants, checkTransition } from './invariants.js';
import { initStatic, nextDeadline, step } from './step.js';
import type { StaticInput, StaticRecord, StaticTypes } from './types.js';

/** Where the fencing term lives, relative to the data dir. The format (decimal text) is on disk: keep it. */
export const STATIC_TERM_FILE = 'election/static-term';

export const STATIC_CORE: Core<StaticTypes> = {
  name: 'static',
  inputKinds: kinds<CoreInput<StaticTypes>['kind']>()(['tick', 'persisted', 'receive']),
  effectKinds: kinds<StaticTypes['effect']['kind']>()(['send', 'leader', 'member']),
  init: (config, persisted, ctx) => initStatic(config, persisted, ctx.now),
  step,
  nextDeadline,
  describeInput,
  describeEffect,
  describeRecord,
  checkInvariants,
  snapshot: (state) => ({ term: state.term }),
  checkTransition,
};

export const STATIC_STORE: Store<Term, StaticRecord> = counterFileStore(
  STATIC_TERM_FILE,
  'term',
  term,
  (record: StaticRecord) => record.term,
);

export function staticProtocol(clusterId: string): Protocol<StaticTypes> {
  return {
    core: STATIC_CORE,
    wire: electionWire<StaticInput>(clusterId, (message, _from, now) => ({
      kind: 'receive',
      now,
      message,
    })),
    store: STATIC_STORE,
  };
}

/** The worker client as a protocol core on the one contract (src/base/protocol.ts): no wire, no store. */
import { kinds, type Core, type CoreInput, type Protocol } from '../../../base/protocol.js';
import type { Millis } from '../../../base/time.js';
import { describeEffect, describeInput } from './describe.js';
import { checkInvariants, checkTransition, snapshot } from './invariants.js';
import { initClient, nextDeadline, step } from './step.js';
import type { ClientTypes } from './types.js';

export const CLIENT_CORE: Core<ClientTypes> = {
  name: 'worker-client',
  inputKinds: kinds<CoreInput<ClientTypes>['kind']>()([
    'tick',
    'persisted',
    'registered',
    'renewed',
    'heartbeat-ok',
    'assignments',
    'failed',
    'stop',
  ]),
  effectKinds: kinds<ClientTypes['effect']['kind']>()([
    'call',
    'cancel',
    'deliver',
    'deliver-snapshot',
    'report-status',
    'stopped',
  ]),
  init: (config, _persisted, ctx) => initClient(config, ctx.now),
  step: (state, input, ctx) => step(state, input, ctx),
  nextDeadline: (state) => nextDeadline(state) as Millis | undefined,
  describeInput,
  describeEffect,
  describeRecord: () => 'none',
  checkInvariants,
  snapshot,
  checkTransition,
};

export const CLIENT_PROTOCOL: Protocol<ClientTypes> = { core: CLIENT_CORE };

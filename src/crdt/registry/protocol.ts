/**
 * The registry replication core as the generic driver runs it (src/base/protocol.ts): the core
 * and its wire (data-plane messages 40-43 in the envelope). No store: the registry is soft state,
 * republished by its owners after a restart (a new epoch). The lead's wiring runs it beside
 * membership, feeding `view` inputs from membership's member events.
 */
import { kinds, type Core, type CoreInput, type Protocol, type Wire } from '../../base/protocol.js';
import type { RegistryConfig } from './config.js';
import { decodeRegistryMessage, encodeRegistryMessage, registryMessages } from './codec.js';
import { describeEffect, describeInput, describeRecord } from './describe.js';
import { checkInvariants, checkTransition, snapshot } from './invariants.js';
import { initRegistry, nextDeadline, step } from './step.js';
import type { RegistryInput, RegistryMessage, RegistryTypes } from './types.js';

export const REGISTRY_CORE: Core<RegistryTypes> = {
  name: 'registry',
  inputKinds: kinds<CoreInput<RegistryTypes>['kind']>()([
    'tick',
    'persisted',
    'local',
    'view',
    'members',
    'receive',
    'deltas',
  ]),
  effectKinds: kinds<RegistryTypes['effect']['kind']>()(['send', 'changed', 'piggyback']),
  init: (config, _persisted, ctx) => initRegistry(config, ctx.now),
  step,
  nextDeadline,
  describeInput,
  describeEffect,
  describeRecord,
  checkInvariants,
  snapshot,
  checkTransition,
};

export function registryWire(
  clusterId: string,
  config: RegistryConfig,
): Wire<RegistryInput, RegistryMessage> {
  const table = registryMessages(config);
  return {
    decode(data, from, _channel, now) {
      const decoded = decodeRegistryMessage(table, data, clusterId);
      if (!decoded.ok) return { ok: false, code: decoded.error.code, detail: decoded.error.detail };
      return { ok: true, input: { kind: 'receive', now, from, message: decoded.message } };
    },
    encode: (message) => encodeRegistryMessage(table, message, clusterId),
  };
}

export function registryProtocol(
  clusterId: string,
  config: RegistryConfig,
): Protocol<RegistryTypes> {
  return { core: REGISTRY_CORE, wire: registryWire(clusterId, config) };
}

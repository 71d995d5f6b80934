/**
 * Placement configuration (STYLE.md section 5): the ring's virtual nodes and the named limits of
 * the placement table. Cluster-wide: every member must use the same `vnodesPerMember`, or members
 * that share a view disagree on owners; the lead adds it to the config fingerprint when wiring.
 */
import { ShoalError } from '../base/errors.js';
import { RING_MEMBERS_MAX } from './ring.js';

/** How a key's owners are chosen (docs/design/data-plane.md, "Placement"). */
export type PlacementStrategy = 'ring' | 'rendezvous' | 'jump';

export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = ['ring', 'rendezvous', 'jump'];

export interface PlacementConfig {
  /**
   * Points each member has on the consistent-hash ring (Karger et al. 1997, virtual nodes). More
   * points even out the keys per member (the spread of a member's share falls as 1/sqrt(points))
   * at the cost of memory (12 bytes a point) and rebuild time on a view change. Cluster-wide.
   * @defaultValue 128 (every profile)
   */
  vnodesPerMember: number;
  /**
   * Most members the table places over. A view with more is refused (ERR_INVALID_ARGUMENT): the
   * ring holds members × vnodesPerMember points. At most RING_MEMBERS_MAX (16,384).
   * @defaultValue 10000
   */
  membersMax: number;
  /**
   * Most owners one lookup returns (`replicas`).
   * @defaultValue 16
   */
  replicasMax: number;
  /**
   * Most keys watched for owner changes at once; a watch past it is refused.
   * @defaultValue 10000
   */
  watchedKeysMax: number;
  /**
   * Longest key, in bytes of UTF-8; a longer key is refused.
   * @defaultValue 4096
   */
  keyBytesMax: number;
}

export const PLACEMENT_DEFAULTS: PlacementConfig = {
  vnodesPerMember: 128,
  membersMax: 10_000,
  replicasMax: 16,
  watchedKeysMax: 10_000,
  keyBytesMax: 4096,
};

/** Most points a member may have on the ring: the limit on `vnodesPerMember`. */
export const VNODES_PER_MEMBER_MAX = 1024;

function checkInt(name: keyof PlacementConfig, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `placement ${name} (${value}) must be an integer in [${min}, ${max}]`,
    );
}

/** Fills in defaults and validates; throws ERR_INVALID_CONFIG naming the field. */
export function placementConfig(settings: Partial<PlacementConfig> = {}): PlacementConfig {
  const config = { ...PLACEMENT_DEFAULTS, ...settings };
  checkInt('vnodesPerMember', config.vnodesPerMember, 1, VNODES_PER_MEMBER_MAX);
  checkInt('membersMax', config.membersMax, 1, RING_MEMBERS_MAX);
  checkInt('replicasMax', config.replicasMax, 1, 1024);
  checkInt('watchedKeysMax', config.watchedKeysMax, 0, 10_000_000);
  checkInt('keyBytesMax', config.keyBytesMax, 1, 1 << 20);
  return config;
}

/** Profiles, validation messages (naming both fields) and the cluster-wide fingerprint. */
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import {
  CLUSTER_WIDE_KEYS,
  PROFILES,
  clusterWideOf,
  configFingerprint,
  describeFingerprintMismatch,
  membershipConfig,
  validateConfig,
} from '../../src/membership/config.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('membership config', () => {
  it('every profile is valid and LAN carries memberlist DefaultLANConfig values', () => {
    for (const name of ['LAN', 'WAN', 'LOCAL', 'SIM_MIN'] as const)
      expect(() => membershipConfig(name)).not.toThrow();
    expect(PROFILES.LAN).toMatchObject({
      probeIntervalMs: 1000,
      probeTimeoutMs: 500,
      indirectChecks: 3,
      retransmitMult: 4,
      suspicionMult: 4,
      suspicionMaxTimeoutMult: 6,
      gossipIntervalMs: 200,
      gossipFanout: 3,
      pushPullIntervalMs: 30000,
      awarenessMultiplierMax: 8,
    });
    expect(PROFILES.WAN).toMatchObject({
      probeIntervalMs: 5000,
      probeTimeoutMs: 3000,
      suspicionMult: 6,
      gossipIntervalMs: 500,
      gossipFanout: 4,
      pushPullIntervalMs: 60000,
    });
    expect(PROFILES.LOCAL).toMatchObject({
      probeTimeoutMs: 200,
      indirectChecks: 1,
      retransmitMult: 2,
      suspicionMult: 3,
      gossipIntervalMs: 100,
      pushPullIntervalMs: 15000,
    });
  });

  it('a cross-field error names both fields and values', () => {
    const err = errorOf(() =>
      membershipConfig('LAN', { probeTimeoutMs: 800, probeIntervalMs: 500 }),
    );
    expect(hasErrorCode(err, 'ERR_INVALID_CONFIG')).toBe(true);
    expect((err as Error).message).toContain(
      'probeTimeoutMs (800) must be less than probeIntervalMs (500)',
    );
  });

  it('a range error names the field, the value and what is allowed', () => {
    const err = errorOf(() => validateConfig({ ...PROFILES.LAN, gossipFanout: 0 }));
    expect(hasErrorCode(err, 'ERR_INVALID_CONFIG')).toBe(true);
    expect((err as Error).message).toContain('gossipFanout (0) must be an integer in 1..64');
  });

  it('labels must fit in a packet: labelsBytesMax is checked against packetBytesMax', () => {
    const err = errorOf(() => membershipConfig('LAN', { labelsBytesMax: 1300 }));
    expect((err as Error).message).toMatch(/labelsBytesMax \(1300\).*packetBytesMax \(1400\)/);
  });

  it('the fingerprint covers exactly the cluster-wide fields', () => {
    const lan = membershipConfig('LAN');
    const base = configFingerprint(clusterWideOf(lan));
    expect(configFingerprint(clusterWideOf({ ...lan, membersMax: 10 }))).toBe(base);
    expect(configFingerprint(clusterWideOf({ ...lan, probeIntervalMs: 2000 }))).not.toBe(base);
    for (const key of CLUSTER_WIDE_KEYS) expect(base).toContain(`${key}=`);
  });

  it('describes a mismatch by naming the differing field and both values', () => {
    const a = configFingerprint(clusterWideOf(membershipConfig('LAN')));
    const b = configFingerprint(clusterWideOf(membershipConfig('LAN', { probeIntervalMs: 2000 })));
    const detail = describeFingerprintMismatch(a, b);
    expect(detail).toContain('probeIntervalMs: ours 1000, theirs 2000');
    expect(detail).not.toContain('probeTimeoutMs');
  });
});

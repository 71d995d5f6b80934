/** Runs the transport compliance suite against every transport and the encryption decorator over each. */
import { networkInterfaces } from 'node:os';
import { describe } from 'vitest';
import { generateKey } from '../../src/transport/keyring.js';
import { runTransportCompliance } from './compliance.js';
import { encryptedHarness, memoryHarness, netHarness } from './harnesses.js';

/** IPv6 loopback is absent in some containers; the suite then runs on IPv4 only. */
const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) =>
  list?.some((i) => i.family === 'IPv6' && i.address === '::1'),
);
const keys = [generateKey(), generateKey()];

runTransportCompliance('NetTransport 127.0.0.1', netHarness('127.0.0.1'));
runTransportCompliance('MemoryTransport over the test fabric', memoryHarness());
runTransportCompliance(
  'EncryptedTransport over NetTransport 127.0.0.1',
  encryptedHarness(netHarness('127.0.0.1'), keys),
);
runTransportCompliance(
  'EncryptedTransport over MemoryTransport',
  encryptedHarness(memoryHarness(), keys),
);

// Reported as skipped (not silently absent) on a host without an IPv6 loopback.
describe.skipIf(!hasIpv6Loopback)('over IPv6 loopback [::1]', () => {
  runTransportCompliance('NetTransport [::1]', netHarness('::1'));
  runTransportCompliance(
    'EncryptedTransport over NetTransport [::1]',
    encryptedHarness(netHarness('::1'), keys),
  );
});

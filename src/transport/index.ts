/** The transport folder's public pieces: the interface, the network, memory and encrypted transports, the keyring. */
export * from './types.js';
export { NetTransport, type NetTransportOptions } from './net.js';
export { TCP_DEFAULTS, type TcpOptions } from './tcp.js';
export { MemoryTransport } from './memory.js';
export { EncryptedTransport, ENCRYPTION_OVERHEAD_BYTES } from './encrypted.js';
export { Keyring, generateKey } from './keyring.js';

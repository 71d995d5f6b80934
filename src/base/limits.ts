/**
 * Named limits (STYLE.md section 7). Every queue, map, retry loop and message has a maximum
 * with a documented default here, so that bad or hostile input is refused before allocating.
 * Protocol-specific limits live in each protocol's `config.ts`; these are the shared ones.
 */
export const LIMITS = {
  /** Largest UDP payload Shoal sends: fits a 1500-byte Ethernet MTU after IP and UDP headers. */
  packetBytesMax: 1400,
  /** Largest single decoded message (stream frames included). Larger frames are refused unread. */
  decodeMessageBytesMax: 4 * 1024 * 1024,
  /** Largest length-prefixed stream frame. Equal to the message limit: one frame carries one message. */
  frameBytesMax: 4 * 1024 * 1024,
  /** Most elements in any decoded list (members in a push-pull, updates in a packet). */
  decodeListCountMax: 65_536,
  /** Longest decoded string, in bytes of UTF-8. */
  decodeStringBytesMax: 4096,
  /** Longest cluster id, in bytes of UTF-8. */
  clusterIdBytesMax: 64,
  /** Messages queued per peer connection before the oldest is dropped. */
  sendQueueDepthMax: 1024,
  /** Reconnect backoff bounds for stream connections. */
  reconnectBackoffMinMs: 50,
  reconnectBackoffMaxMs: 5_000,
  /** Most keys in a gossip keyring. */
  keyringKeysMax: 16,
} as const;

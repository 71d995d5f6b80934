/**
 * The two ways a message travels (memberlist's packet-vs-stream split; see transport/types.ts):
 * `packet` is best effort and small (UDP), `stream` is reliable and ordered per peer while the
 * connection lives (TCP frames). Cores name a channel in every send; transports implement both.
 */
export type Channel = 'packet' | 'stream';

/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib and gzip), computed incrementally so a snapshot's
 * checksum is built chunk by chunk. It catches the corruption a disk or a transfer introduces
 * (every 1-, 2- and odd-bit error, every burst up to 32 bits); it is not a defence against a
 * forger, which the transport's authentication is.
 */

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/** The running CRC after `bytes`, from `crc` (start with 0). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++)
    c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The WAL's options: one node-local setting (it does not have to match across the cluster).
 */
import { ShoalError } from '../../base/errors.js';

/** Smallest segment: one page. A batch larger than a segment gets a segment of its own size. */
export const WAL_SEGMENT_BYTES_MIN = 4096;
/** Largest segment: recovery reads a whole segment into memory. */
export const WAL_SEGMENT_BYTES_MAX = 1024 * 1024 * 1024;

export interface WalOptions {
  /**
   * Size of a new segment file, bytes, preallocated (zeros written out) before use. Larger
   * segments rotate less often (a rotation is a rename and a directory fsync, and its
   * preallocation runs in the background) but keep more log on disk before a snapshot lets
   * compaction remove it, and take longer to read at boot (recovery reads every segment). Raise
   * it when the node writes more than a segment between snapshots; lower it for small disks and
   * for tests that must see rotations.
   * @defaultValue 64 MiB (etcd's segment size)
   */
  segmentBytes?: number;
}

export const WAL_SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024;

/** The options with defaults filled in; throws ERR_INVALID_CONFIG naming the field. */
export function validateWalOptions(options: WalOptions): Required<WalOptions> {
  const segmentBytes = options.segmentBytes ?? WAL_SEGMENT_BYTES_DEFAULT;
  if (
    !Number.isSafeInteger(segmentBytes) ||
    segmentBytes < WAL_SEGMENT_BYTES_MIN ||
    segmentBytes > WAL_SEGMENT_BYTES_MAX
  )
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `segmentBytes (${segmentBytes}) must be an integer from ${WAL_SEGMENT_BYTES_MIN} to ${WAL_SEGMENT_BYTES_MAX}`,
    );
  return { segmentBytes };
}

/**
 * Shoal's version (package.json), read once when the node layer is loaded: etcd's Status
 * answer and the agent report it. From src/node or dist/node the package file is two levels up.
 */
import { readFileSync } from 'node:fs';

export const SHOAL_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

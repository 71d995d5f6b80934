// Build step after `tsc`: copies non-TypeScript assets that the compiled code serves at run time
// (the dashboard's static files, src/agent/dashboard/, etcd's .proto files, src/etcd/proto/, and
// the worker API's .proto, src/worker/proto/) to the same place under dist/, so
// `new URL('./dashboard/', import.meta.url)` in dist/agent/ finds them as it does in src/agent/.
import { cpSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ASSET_DIRS = ['agent/dashboard', 'etcd/proto', 'worker/proto'];
const root = fileURLToPath(new URL('../', import.meta.url));

for (const dir of ASSET_DIRS) {
  const from = `${root}src/${dir}`;
  if (!existsSync(from)) continue;
  cpSync(from, `${root}dist/${dir}`, { recursive: true, filter: (path) => !path.endsWith('.ts') });
}

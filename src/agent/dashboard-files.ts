/**
 * The dashboard's static files (src/agent/dashboard/, copied next to the compiled code by
 * scripts/copy-assets.js). The folder is resolved relative to this module, so it is found both
 * when running from source (tsx) and from dist/. Only plain file names directly inside the
 * folder are served: no path separators, no `..`, nothing outside it.
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from './http-errors.js';

export const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const FILE_NAME_RE = /^[\w-][\w.-]*$/;

/** Reads one dashboard file; ERR_NOT_FOUND (404) for a bad name, an unknown type or a missing file. */
export async function readDashboardFile(
  name: string,
  dir: string = DASHBOARD_DIR,
): Promise<{ contentType: string; body: Buffer }> {
  const contentType = CONTENT_TYPES[extname(name)];
  if (!FILE_NAME_RE.test(name) || contentType === undefined)
    throw new HttpError(404, 'ERR_NOT_FOUND', `no dashboard file ${JSON.stringify(name)}`);
  try {
    return { contentType, body: await readFile(join(dir, name)) };
  } catch {
    const what =
      name === 'index.html'
        ? `the dashboard is not installed (no index.html in ${dir}); the HTTP API under /v1/ works without it`
        : `no dashboard file ${JSON.stringify(name)}`;
    throw new HttpError(404, 'ERR_NOT_FOUND', what);
  }
}

/**
 * Runs a piece of code as an unprivileged user, wherever the checkout lives: permission checks
 * mean nothing to root, so as root (CI, containers) the code runs in a child process that starts
 * as root, imports its modules (through tsx, from the checkout: a home directory of mode 700
 * included), and only then drops to `nobody` (groups, gid, uid); otherwise in a child as this
 * user. The code's last line on stdout is JSON, which is returned.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const NOBODY_ID = 65534;
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Imports `modules` (paths under the checkout, as `m0`, `m1`, ...), drops privileges when root,
 * then runs `body` (an async function body that may `return` a JSON-able value).
 */
export async function runUnprivileged(
  modules: readonly string[],
  body: string,
  timeoutMs = 60_000,
): Promise<unknown> {
  const imports = modules
    .map(
      (path, i) =>
        `const m${i} = await import(${JSON.stringify(new URL(path, `file://${repoRoot}`).href)});`,
    )
    .join('\n');
  const drop =
    process.getuid?.() === 0
      ? `process.setgroups([]); process.setgid(${NOBODY_ID}); process.setuid(${NOBODY_ID});`
      : '';
  const script = `${imports}\n${drop}\nconst out = await (async () => { ${body} })();\nconsole.log(JSON.stringify(out ?? null));\nprocess.exit(0);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  if (status !== 0 || (!line.startsWith('{') && line !== 'null'))
    throw new Error(`unprivileged child failed: status ${status}, stderr: ${stderr}`);
  return JSON.parse(line) as unknown;
}

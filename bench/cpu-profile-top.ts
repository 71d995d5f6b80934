/**
 * The functions a `.cpuprofile` spent most samples in (self time), and the files: a quick read
 * of the profiles bench/lib-cpu-profile.ts writes.
 *
 *   npx tsx bench/cpu-profile-top.ts FILE.cpuprofile [--top 40]
 */
import { readFile } from 'node:fs/promises';
import { checkFlags, flagNumber, isMain, parseFlags } from './lib-report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** The report for `FILE [--top N]`; without a file (as `npm run bench` calls it), how to use it. */
export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv.slice(1));
  checkFlags(flags, ['top']);
  const file = argv[0];
  if (file === undefined)
    return 'usage: npx tsx bench/cpu-profile-top.ts FILE.cpuprofile [--top N]';
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const top = flagNumber(flags, 'top', 40);
  const total = profile.samples.length;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  for (const node of profile.nodes) {
    const n = hits.get(node.id) ?? 0;
    if (n === 0) continue;
    const url = node.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/');
    const name = `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + n);
    const fileKey = url === '' ? node.callFrame.functionName : url;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + n);
  }
  const show = (title: string, map: Map<string, number>): string[] => [
    '',
    title,
    ...[...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, n]) => `${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`),
  ];
  return [
    `${file}: ${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`,
    ...show('self time by function', byFunction),
    ...show('self time by file', byFile),
  ].join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);

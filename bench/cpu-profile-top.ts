/**
 * The functions a `.cpuprofile` spent most samples in (self time), and the files: a quick read
 * of the profiles bench/lib-cpu-profile.ts writes.
 *
 *   npx tsx bench/cpu-profile-top.ts FILE.cpuprofile [--top 40]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file, , topText] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: cpu-profile-top.ts FILE.cpuprofile [--top N]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
};
const top = Number(topText ?? 40);
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
const show = (title: string, map: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}\n`);
};
process.stdout.write(
  `${file}: ${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s\n`,
);
show('self time by function', byFunction);
show('self time by file', byFile);

/**
 * The one-line status of `shoal demo`: member counts by state, the leader and its term, the
 * membership epoch and the processes' states. On a terminal the line is redrawn in place every
 * STATUS_INTERVAL_MS; otherwise (logs, CI) a plain line is printed when it changes, and at least
 * every STATUS_REPEAT_MS so a reader can tell the demo is still alive.
 */
import type { DemoNodeInfo } from './demo-cluster.js';
import type { DemoProxy } from './demo-proxy.js';

export const STATUS_INTERVAL_MS = 1_000;
export const STATUS_REPEAT_MS = 10_000;

interface MemberLike {
  id: string;
  name: string;
  state: string;
}

function membersOf(
  body: unknown,
): { members: MemberLike[]; epoch: number | undefined } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { members, epoch } = body as { members?: unknown; epoch?: unknown };
  if (!Array.isArray(members)) return undefined;
  const valid = members.filter(
    (m): m is MemberLike =>
      typeof m === 'object' &&
      m !== null &&
      typeof (m as MemberLike).id === 'string' &&
      typeof (m as MemberLike).name === 'string' &&
      typeof (m as MemberLike).state === 'string',
  );
  return { members: valid, epoch: typeof epoch === 'number' ? epoch : undefined };
}

function leaderText(body: unknown, members: readonly MemberLike[]): string {
  if (typeof body !== 'object' || body === null) return 'leader ?';
  const { leader, term } = body as { leader?: unknown; term?: unknown };
  const termText = typeof term === 'number' ? ` (term ${term})` : '';
  if (typeof leader !== 'string') return `no leader${termText}`;
  const name = members.find((m) => m.id === leader)?.name ?? leader.slice(0, 8);
  return `leader ${name}${termText}`;
}

function processText(nodes: readonly DemoNodeInfo[]): string {
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  if (counts.size === 0) return 'no processes';
  return `processes ${[...counts].map(([state, count]) => `${count} ${state}`).join(', ')}`;
}

/** One status line from the agent's `/v1/members` and `/v1/leader` answers (undefined: none answered). */
export function describeStatus(
  membersBody: unknown,
  leaderBody: unknown,
  nodes: readonly DemoNodeInfo[],
): string {
  const parsed = membersOf(membersBody);
  if (parsed === undefined) return `no agent answering · ${processText(nodes)}`;
  const count = (state: string): number => parsed.members.filter((m) => m.state === state).length;
  const states = `${count('alive')} alive, ${count('suspect')} suspect, ${count('dead')} dead`;
  const left = count('left') > 0 ? `, ${count('left')} left` : '';
  const epoch = parsed.epoch === undefined ? '' : ` · epoch ${parsed.epoch}`;
  return `members ${states}${left} · ${leaderText(leaderBody, parsed.members)}${epoch} · ${processText(nodes)}`;
}

export interface StatusOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Polls the cluster and prints the status line until `stop()`. */
export class StatusReporter {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastLine = '';
  private lastPrintMs = 0;

  constructor(
    private readonly proxy: DemoProxy,
    private readonly nodes: () => DemoNodeInfo[],
    private readonly out: StatusOutput,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.refresh(), STATUS_INTERVAL_MS);
    void this.refresh();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.out.isTTY === true && this.lastLine !== '') this.out.write('\n');
  }

  private async refresh(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [members, leader] = await Promise.all([
        this.proxy.getJson('/v1/members'),
        this.proxy.getJson('/v1/leader'),
      ]);
      if (this.timer === undefined) return;
      this.print(describeStatus(members, leader, this.nodes()));
    } finally {
      this.busy = false;
    }
  }

  private print(line: string): void {
    const now = Date.now();
    if (this.out.isTTY === true) {
      // Clip to the terminal width: a wrapped line could not be redrawn in place.
      const width = this.out.columns ?? 0;
      this.out.write(`\r\x1b[2K${width > 1 ? line.slice(0, width - 1) : line}`);
    } else if (line !== this.lastLine || now - this.lastPrintMs >= STATUS_REPEAT_MS) {
      this.out.write(`${line}\n`);
      this.lastPrintMs = now;
    }
    this.lastLine = line;
  }
}

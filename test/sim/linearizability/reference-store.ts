/**
 * etcd's store rules executed sequentially, the reference the tests compare against: one
 * revision counter for all keys, raised by every change; a delete of an absent key and a failed
 * compare change nothing. Used to make histories that are linearizable by construction
 * (generate.ts) and as the state machine of the toy Raft store (toy-kv.ts).
 */
import type { KvInput, KvOutput } from '../../../src/sim/linearizability/kv-model.js';

interface Cell {
  value: string;
  modRevision: number;
}

export class ReferenceStore {
  private revision = 0;
  private readonly cells = new Map<string, Cell>();

  apply(input: KvInput): KvOutput {
    const cell = this.cells.get(input.key);
    switch (input.kind) {
      case 'get':
        return this.read(input.key);
      case 'put':
        this.cells.set(input.key, { value: input.value, modRevision: ++this.revision });
        return { revision: this.revision };
      case 'delete':
        if (cell === undefined) return { deleted: 0, revision: this.revision };
        this.cells.delete(input.key);
        return { deleted: 1, revision: ++this.revision };
      case 'cas': {
        const holds =
          input.compare.target === 'value'
            ? (cell?.value ?? null) === input.compare.value
            : (cell?.modRevision ?? 0) === input.compare.modRevision;
        if (!holds) return { succeeded: false };
        if (input.value !== null) {
          this.cells.set(input.key, { value: input.value, modRevision: ++this.revision });
        } else if (cell !== undefined) {
          this.cells.delete(input.key);
          this.revision++;
        }
        return { succeeded: true, revision: this.revision };
      }
    }
  }

  /** What a get answers: the value and its modRevision, or absent. */
  read(key: string): KvOutput {
    const cell = this.cells.get(key);
    return cell === undefined
      ? { value: null }
      : { value: cell.value, modRevision: cell.modRevision };
  }

  peek(key: string): Cell | undefined {
    return this.cells.get(key);
  }
}

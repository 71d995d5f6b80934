/**
 * Converts a Jepsen etcd register log, the format of Porcupine's test_data/jepsen (from the
 * Jepsen etcd test, collected by ahorn/linearizability-checker), into a kv history on one key:
 * `:read` is a get, `:write v` a put, `:cas [a b]` a CAS on the value a that puts b. Times are
 * the line numbers (the log orders events; nothing else is known). A `:fail :read :timed-out`
 * and an `:info` (timed-out write or CAS) have no return: they may or may not have taken effect,
 * and so does any call still open at the end of the log.
 */
import type { KvOp } from './ops.js';

const LINE =
  /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*)$/;
export const JEPSEN_KEY = 'register';

function parseValue(text: string): string | null {
  return text === 'nil' ? null : text;
}

export function parseJepsenLog(text: string): KvOp[] {
  const ops: KvOp[] = [];
  const open = new Map<number, number>(); // process -> index in ops
  text.split('\n').forEach((line, lineNumber) => {
    const m = LINE.exec(line.trim());
    if (m === null) return;
    const [, procText, type, f, arg] = m as unknown as [string, string, string, string, string];
    const proc = Number(procText);
    if (type === 'invoke') {
      const cas = /^\[(\d+)\s+(\d+)\]$/.exec(arg);
      const input =
        f === 'read'
          ? { kind: 'get' as const, key: JEPSEN_KEY }
          : f === 'write'
            ? { kind: 'put' as const, key: JEPSEN_KEY, value: arg }
            : {
                kind: 'cas' as const,
                key: JEPSEN_KEY,
                compare: { target: 'value' as const, value: cas?.[1] ?? '' },
                value: cas?.[2] ?? '',
              };
      open.set(proc, ops.length);
      ops.push({ clientId: proc, input, callMs: lineNumber });
      return;
    }
    const index = open.get(proc);
    if (index === undefined) throw new Error(`line ${lineNumber + 1}: ${type} without an invoke`);
    open.delete(proc);
    if (type === 'info' || arg === ':timed-out') return; // indeterminate: no return
    const call = ops[index] as KvOp;
    const output =
      f === 'read' ? { value: parseValue(arg) } : f === 'cas' ? { succeeded: type === 'ok' } : {};
    ops[index] = { ...call, returnMs: lineNumber, output };
  });
  return ops;
}

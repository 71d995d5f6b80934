/**
 * The linearizability checker for key-value histories (issue 13's proof tool): the history and
 * model contract (model.ts), the search (check.ts), the kv model with etcd semantics
 * (kv-model.ts), the explanation (explain.ts), the JSON file (history-file.ts), the recorder
 * clients use (recorder.ts) and the simulator checker (sim-checker.ts). See
 * docs/design/linearizability.md.
 */
export * from './check.js';
export * from './explain.js';
export * from './history-file.js';
export * from './kv-check.js';
export * from './kv-model.js';
export * from './model.js';
export * from './recorder.js';
export * from './sim-checker.js';
export * from './resolve.js';

// Lint: typescript-eslint's recommended rules, plus Shoal's architecture rules (STYLE.md 1-2):
// protocol cores are pure (no ambient time, randomness, timers, async or node:* imports), and
// nothing in src/ but the CLI imports the simulator.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Files that hold a pure protocol core: every file of a protocol folder. No protocol has a
 * driver of its own (src/node/driver.ts runs them all); the one exception is membership's wire
 * adapter, which compresses push-pull views with node:zlib.
 */
const CORE_FILES = [
  'src/base/**/*.ts',
  'src/codec/**/*.ts',
  'src/membership/**/*.ts',
  'src/election/**/*.ts',
  'src/raft/**/*.ts',
  // Not a protocol, but the checker must be as pure: a verdict may not depend on time or chance.
  'src/sim/linearizability/**/*.ts',
  'src/kv/**/*.ts',
  'src/crdt/**/*.ts',
  'src/placement/**/*.ts',
  'src/chain/**/*.ts',
  'src/tree/**/*.ts',
  'src/worker/core/**/*.ts',
];
const CORE_EXCEPTIONS = ['src/base/system-clock.ts', 'src/membership/wire.ts'];

const impure = (what) =>
  `${what} is banned in a protocol core: time, randomness and I/O arrive as inputs (STYLE.md section 2).`;

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'test-results/**',
      'src/agent/dashboard/**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/sim/**', 'src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/sim/**', '**/sim/*.js'],
              message: 'Only src/cli and tests may import the simulator (STYLE.md section 1).',
            },
          ],
        },
      ],
    },
  },
  {
    files: CORE_FILES,
    ignores: CORE_EXCEPTIONS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: impure('A node:* import') },
            {
              group: ['**/sim/**', '**/sim/*.js'],
              message: 'Only src/cli and tests may import the simulator.',
            },
          ],
          paths: [
            'fs',
            'net',
            'dgram',
            'crypto',
            'os',
            'child_process',
            'timers',
            'perf_hooks',
            'worker_threads',
          ].map((name) => ({ name, message: impure(`The '${name}' module`) })),
        },
      ],
      'no-restricted-globals': [
        'error',
        ...[
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'queueMicrotask',
          'performance',
          'process',
          'Promise',
          'fetch',
          'crypto',
        ].map((name) => ({ name, message: impure(`'${name}'`) })),
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='Date']", message: impure('Date.now()') },
        { selector: "NewExpression[callee.name='Date']", message: impure('new Date()') },
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: impure('Math.random()'),
        },
        { selector: 'AwaitExpression', message: impure('await') },
        { selector: ':function[async=true]', message: impure('An async function') },
      ],
    },
  },
);

// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const adapterOnly = [
  'node:fs',
  'node:fs/promises',
  'fs',
  'fs/promises',
  'fs-ext',
  'proper-lockfile',
  'ioredis',
  'pg',
  'postgres',
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      'coverage/**',
      '.scratch/**',
      'eslint.config.js',
      'vitest.config.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
  {
    // One floor per layer (docs/design.md): engine/ is the ground; projections/ and adapters/ stand on
    // it; runtime/ on engine/ and projections/; index.ts composes; cli/ uses the public index only.
    files: [
      'engine/**/*.ts',
      'projections/**/*.ts',
      'adapters/**/*.ts',
      'runtime/**/*.ts',
      'cli/**/*.ts',
      'index.ts',
    ],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver()],
    },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            layer(
              'engine',
              ['projections', 'runtime', 'adapters', 'cli', 'index.ts'],
              'imports nothing of ours',
            ),
            layer('projections', ['runtime', 'adapters', 'cli', 'index.ts'], 'imports engine/ only'),
            layer(
              [
                'adapters/memory',
                'adapters/filesystem',
                'adapters/redis',
                'adapters/postgres',
                'adapters/open-store.ts',
              ],
              ['projections', 'runtime', 'cli', 'index.ts'],
              'import engine/ only',
            ),
            // The HTTP server drives the public API like any user: the root index, never runtime/ or
            // projections/ internals (nor the stores: it serves whatever store the manager holds).
            layer(
              'adapters/server',
              ['projections', 'runtime', 'cli', 'engine', 'adapters/memory', 'adapters/filesystem'],
              'uses the public index only',
            ),
            layer(
              'runtime',
              ['adapters', 'cli', 'index.ts'],
              'imports engine/ and projections/ only; it receives its store',
            ),
            // …and the server's public entry (`eventy/server`), for `eventy serve`.
            layer('cli', ['engine', 'projections', 'runtime', 'adapters'], 'uses the public index only', [
              'server/index.ts',
            ]),
            layer('index.ts', ['cli'], 'composes runtime and stores'),
          ],
        },
      ],
    },
  },
  {
    // The engine, the folds and the runtime never touch a backend: I/O lives in adapters/.
    files: ['engine/**/*.ts', 'projections/**/*.ts', 'runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: adapterOnly.map((name) => ({
            name,
            message: 'engine/, projections/ and runtime/ must not import I/O backends: that is adapters/',
          })),
        },
      ],
    },
  },
  {
    // The dashboard's plain ES modules run in the browser as they are: no types, browser globals.
    files: ['adapters/server/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'sessionStorage',
          'fetch',
          'URL',
          'URLSearchParams',
          'WebSocket',
          'Node',
          'Intl',
          'setTimeout',
          'clearTimeout',
          'requestAnimationFrame',
          'ResizeObserver',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
);

/**
 * A zone of import-x/no-restricted-paths: files under `target` (one path or several) may not import from
 * `from`, except the paths `except` (relative to each `from`).
 */
function layer(target, from, why, except = []) {
  const targets = Array.isArray(target) ? target : [target];
  return {
    target: targets.map((t) => `./${t}`),
    from: from.map((f) => `./${f}`),
    ...(except.length > 0 ? { except: except.map((e) => `./${e}`) } : {}),
    message: `${targets.length > 1 ? 'stores in adapters/' : target} ${why}`,
  };
}

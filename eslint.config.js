// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const adapterOnly = [
  'node:fs',
  'node:fs/promises',
  'fs',
  'fs/promises',
  'fs-ext',
  'proper-lockfile',
  'ioredis',
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
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
    // The engine and the folds never touch a backend: dependencies point inward.
    files: ['engine/**/*.ts', 'projections/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: adapterOnly.map((name) => ({
            name,
            message: 'engine/ and projections/ must not import adapters or I/O backends',
          })),
          patterns: [
            { group: ['**/adapters/**'], message: 'engine/ and projections/ must not import adapters' },
          ],
        },
      ],
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

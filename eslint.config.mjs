import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'dist',
      '.data',
      'coverage',
      'test-artifacts',
      'bench/results',
      'test/histories',
      'bin/*.js',
      '*.config.js',
      'eslint.config.mjs',
      // A service of its own, built strictly against the packed package by its test; here its imports resolve to nothing.
      'examples/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { import: importPlugin },
    settings: { 'import/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import/no-cycle': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O, no heavy modules.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflow code cannot use Node built-ins.' },
            { group: ['zod', 'pino', 'fastify'], message: 'Keep heavy modules out of the workflow bundle.' },
          ],
          paths: [
            'assert',
            'buffer',
            'child_process',
            'crypto',
            'dns',
            'events',
            'fs',
            'fs/promises',
            'http',
            'https',
            'net',
            'os',
            'path',
            'process',
            'stream',
            'timers',
            'tls',
            'url',
            'util',
            'worker_threads',
            'zlib',
          ].map((name) => ({ name, message: 'Workflow code cannot use Node built-ins.' })),
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  prettier,
);

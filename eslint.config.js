// ESLint with typescript-eslint, type-aware (the TypeScript checker, through projectService):
// no-floating-promises needs the real types of what a call returns (a Promise from
// node:net, ioredis or our own async code), which only the TypeScript checker knows across
// files and packages. The rule set is deliberately small: it holds the habits STYLE.md asks for
// and nothing a reviewer would argue about. Adding a rule is a change to discuss, not a drive-by.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'target/**', 'bench/results/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // A promise nobody awaits or catches loses its rejection and its ordering. tap's t.test()
      // returns one that tap itself tracks (a rejection fails the test), so it is safe to drop.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafePromises: [
          { from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' },
        ],
      }],
      // No unused values: imports, variables, parameters before a used one, caught errors.
      // A leading underscore marks a value kept on purpose (a callback's unused parameter).
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_',
        caughtErrors: 'all', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true,
      }],
      // Type-only imports say so, and vanish from the emitted JavaScript.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // In src/ a value the types say may be absent is checked (assert or a branch), not asserted
    // away with '!'. Tests may use '!' where a failed lookup fails the test anyway.
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'error' },
  },
)

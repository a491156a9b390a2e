import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
  { files: ['bin/**', 'scripts/**', 'test/setup/**', 'bench/**', 'src/cli/**'], rules: { 'no-console': 'off' } },
  // The staff console (issue #18) runs in the browser: browser globals, not Node's (its vite.config.ts and unit specs run in Node).
  {
    files: ['console/src/**/*.{ts,tsx}', 'test/browser/support/in-page/**/*.js'],
    ignores: ['console/src/**/*.spec.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  { files: ['console/src/**/*.{ts,tsx}'], ignores: ['console/src/**/*.spec.ts'], rules: { 'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname'] } },
);

import { defineConfig } from 'vitest/config';
import LongFirstSequencer from './vitest.sequencer.js';

// One run over the whole workspace. Workspace packages resolve to their TypeScript sources through
// the `source` export condition, so no build is needed before testing.
export default defineConfig({
  resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'tests/**/*.test.ts',
      'tools/**/*.test.ts',
    ],
    // The stock Debian kernel boot takes 12 min on a quiet 2-core machine and over 55 min on a loaded CI
    // machine, at today's interpreter speed: it runs on its own with `pnpm test:debian`
    // (vitest.debian.config.ts), not inside the README's test command.
    exclude: ['**/node_modules/**', '**/dist/**', 'tests/boot/debian.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    sequence: { sequencer: LongFirstSequencer },
    // CI asks for a JSON report too, to print a plain closing line.
    reporters: process.env.VITEST_JSON
      ? ['default', ['json', { outputFile: process.env.VITEST_JSON }]]
      : ['default'],
  },
});

import { configDefaults, defineConfig } from 'vitest/config';

// Workspace packages are consumed from their TypeScript source in tests (the
// `@otp/source` export condition), so `pnpm test` needs no build step.
// The rest are Vite's default server conditions.
const conditions = ['@otp/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@otp/source'] } },
  test: {
    include: [
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // The faults and cluster tiers have their own configs and commands (pnpm test:faults,
    // pnpm test:cluster).
    exclude: [...configDefaults.exclude, 'test/faults/**', 'test/cluster/**'],
    globalSetup: ['./test/global-setup.ts'],
    // Generous: tests wait on conditions, so a bound only has to catch a hang, and on a
    // loaded 2-core machine (CI, several suites at once) honest tests took over 20 s.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration tests share one Redis (isolated by key prefix and queue name) and spawn
    // HTTP servers; two workers match the two cores CI has.
    maxWorkers: 2,
  },
});

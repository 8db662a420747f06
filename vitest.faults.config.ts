import { defineConfig } from 'vitest/config';

// The faults tier (`pnpm test:faults`): real API and worker processes, a private
// redis-server per test on a free loopback port (AOF on), and the fake Messaggio. Slow by
// nature, so kept out of `pnpm test`. Files run one at a time: each already runs several
// processes, and results must hold on a loaded 2-core machine. Every wait is on a condition
// under a generous bound; no test flushes or even touches the shared Redis.
const conditions = ['@otp/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@otp/source'] } },
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});

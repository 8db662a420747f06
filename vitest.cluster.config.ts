import { defineConfig } from 'vitest/config';

// The cluster tier (`pnpm test:cluster`): the API, the worker and the limits on a local
// three-master Redis Cluster that the global setup starts from `redis-server` (free loopback
// ports) and tears down. Files run one at a time: one of them stops and restarts a master.
const conditions = ['@otp/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@otp/source'] } },
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['./test/cluster/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});

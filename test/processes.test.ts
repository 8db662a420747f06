import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killEntryProcesses, PROCESS_TEST_TIMEOUT_MS, startEntry } from './entry-process.js';
import { connectTestRedis, deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

// The entry files run as real processes, from TypeScript source, as `pnpm start` runs
// their builds: signals, exit codes and start-up refusals only exist at this level.
const ENTRIES = { api: 'apps/api/src/server.ts', worker: 'apps/worker/src/main.ts' };
afterEach(killEntryProcesses);

// Every prefix and queue handed to a process, so their keys (BullMQ writes a queue's meta
// key as soon as a worker starts) are deleted afterwards.
const used: string[] = [];
afterAll(async () => {
  const redis = connectTestRedis();
  await deleteKeys(redis, ...used);
  await redis.quit();
});

function start(entry: keyof typeof ENTRIES, env: Record<string, string>) {
  return startEntry(ENTRIES[entry], env);
}

function isolatedEnv(): Record<string, string> {
  const prefix = uniquePrefix('proc');
  const queue = prefix.replaceAll(':', '-').replace(/-$/, '');
  used.push(prefix, `bull:${queue}:`);
  return {
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: queue,
    NODE_ENV: 'development',
    // The worker's metrics port stays closed: a developer's running worker may hold 9464.
    METRICS_PORT: '0',
  };
}

describe.each(['api', 'worker'] as const)('%s process', (entry) => {
  it(
    'refuses to start in production without OTP_SECRET and a provider, naming both',
    async () => {
      const proc = start(entry, { ...isolatedEnv(), NODE_ENV: 'production' });
      expect(await proc.exit()).toBe(1);
      expect(proc.output()).toMatch(/OTP_SECRET: is required/);
      expect(proc.output()).toMatch(/OTP_DEBUG: no SMS provider is configured; set MESSAGGIO_API_KEY/);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'refuses to start with no provider unless OTP_DEBUG=true, naming the variable to set',
    async () => {
      const proc = start(entry, isolatedEnv());
      expect(await proc.exit()).toBe(1);
      expect(proc.output()).toMatch(/OTP_DEBUG=true/);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'starts in debug mode (OTP_DEBUG=true) and exits 0 on SIGTERM',
    async () => {
      const proc = start(entry, { ...isolatedEnv(), OTP_DEBUG: 'true', PORT: '0', HOST: '127.0.0.1' });
      await proc.waitFor(entry === 'api' ? 'Server listening' : 'worker ready');
      expect(proc.output()).toMatch(/debug mode/);
      proc.child.kill('SIGTERM');
      expect(await proc.exit()).toBe(0);
      expect(proc.output()).toMatch(entry === 'api' ? /shutting down/ : /worker stopped/);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

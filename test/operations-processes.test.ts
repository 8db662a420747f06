import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { killEntryProcesses, PROCESS_TEST_TIMEOUT_MS, startEntry, waitForHttpOk } from './entry-process.js';
import { freePort } from './probes.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

// The worker's METRICS_PORT in a real process, from TypeScript source as in
// processes.test.ts: what Docker's healthcheck and Prometheus see, across start and SIGTERM.
afterEach(killEntryProcesses);

describe('worker process with METRICS_PORT', () => {
  it(
    'serves metrics and health while it runs, and closes the port on SIGTERM',
    async () => {
      const prefix = uniquePrefix('ops');
      const queueName = prefix.replaceAll(':', '-').replace(/-$/, '');
      const port = await freePort();
      const worker = startEntry('apps/worker/src/main.ts', {
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
        QUEUE_NAME: queueName,
        NODE_ENV: 'development',
        OTP_DEBUG: 'true',
        METRICS_PORT: String(port),
        METRICS_HOST: '127.0.0.1',
      });
      const redis = new Redis(testRedisUrl());
      try {
        const base = `http://127.0.0.1:${port}`;
        // Ready means Redis answers and the worker takes jobs; start-up time varies with load.
        await waitForHttpOk(`${base}/health/ready`);
        expect((await fetch(`${base}/health/live`)).status).toBe(200);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metrics).toContain(`otp_queue_jobs{queue="${queueName}",state="waiting"} 0`);
        expect(metrics).toMatch(/^process_resident_memory_bytes /m);

        // The worker's heartbeat says which transport it runs, and a graceful stop removes it.
        const heartbeats = () => redis.keys(`${prefix}worker:${queueName}:*`);
        const [beat] = await heartbeats();
        expect(await redis.get(beat ?? '')).toBe('debug');
        expect(await redis.ttl(beat ?? '')).toBeLessThanOrEqual(15);

        worker.child.kill('SIGTERM');
        expect(await worker.exit()).toBe(0);
        await expect(fetch(`${base}/health/live`)).rejects.toThrow();
        expect(await heartbeats()).toEqual([]);
      } finally {
        await deleteKeys(redis, prefix, `bull:${queueName}:`);
        await redis.quit();
      }
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

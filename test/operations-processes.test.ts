import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';

// The worker's METRICS_PORT in a real process, from TypeScript source as in
// processes.test.ts: what Docker's healthcheck and Prometheus see, across start and SIGTERM.
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

function run(entry: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=@otp/source', '--import', 'tsx', entry, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return {
    child,
    output: () => output,
    async waitFor(text: string, timeoutMs = 15_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > until || child.exitCode !== null) {
          throw new Error(`"${text}" never appeared; output so far:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async exit(): Promise<number | null> {
      if (child.exitCode !== null) return child.exitCode;
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('worker process with METRICS_PORT', () => {
  it('serves metrics and health while it runs, and closes the port on SIGTERM', async () => {
    const prefix = uniquePrefix('ops');
    const queueName = prefix.replaceAll(':', '-').replace(/-$/, '');
    const port = await freePort();
    const worker = run('apps/worker/src/main.ts', [], {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      QUEUE_NAME: queueName,
      NODE_ENV: 'development',
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
    });
    const redis = new Redis(testRedisUrl());
    try {
      await worker.waitFor('metrics and health checks listening');
      await worker.waitFor('worker ready');
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain(`otp_queue_jobs{queue="${queueName}",state="waiting"} 0`);
      expect(metrics).toMatch(/^process_resident_memory_bytes /m);

      worker.child.kill('SIGTERM');
      expect(await worker.exit()).toBe(0);
      await expect(fetch(`${base}/health/live`)).rejects.toThrow();
    } finally {
      await deleteKeys(redis, prefix, `bull:${queueName}:`);
      await redis.quit();
    }
  });
});

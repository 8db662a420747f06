import { randomUUID } from 'node:crypto';
import { type Agent, request } from 'node:http';
import { createFakeMessaggio, type FakeMessaggio } from '@otp/messaggio/testing';
import { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { killEntryProcesses, STARTUP_TIMEOUT_MS, startEntry, waitForHttpOk } from '../entry-process.js';
import { freePort } from '../probes.js';
import { type PrivateRedis, startPrivateRedis } from './private-redis.js';

export const OTP_SECRET = 'faults-test-secret-0123456789abcdef0123';

/** Variables every process of one test shares: its private Redis, secret and queue. */
export function baseEnv(redisUrl: string) {
  return {
    REDIS_URL: redisUrl,
    OTP_SECRET,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    QUEUE_NAME: `faults-${randomUUID().slice(0, 8)}`,
  };
}

export type Proc = ReturnType<typeof startEntry>;

/** A real API process (from source), ready once /health/ready answers 200. */
export async function startApi(env: Record<string, string>) {
  const port = await freePort();
  const proc = startEntry('apps/api/src/server.ts', {
    HOST: '127.0.0.1',
    PORT: String(port),
    // The deployment sends real SMS (through the fake): the API, like the workers, knows
    // a provider is configured, so it is not in debug mode.
    MESSAGGIO_API_KEY: 'test-login',
    // Every request in these tests comes from 127.0.0.1, and phones repeat across runs.
    OTP_SENDS_PER_IP_PER_HOUR: '0',
    OTP_VERIFIES_PER_IP_PER_HOUR: '0',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    OTP_SENDS_PER_PHONE_PER_HOUR: '0',
    OTP_SENDS_PER_PHONE_PER_DAY: '0',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    ...env,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${base}/health/ready`);
  return { proc, port, base };
}

/** A real worker process (from source), ready once its /health/ready answers 200. */
export async function startWorker(env: Record<string, string>) {
  const port = await freePort();
  const proc = startEntry('apps/worker/src/main.ts', {
    METRICS_PORT: String(port),
    METRICS_HOST: '127.0.0.1',
    ...env,
  });
  await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`);
  return { proc, metricsPort: port };
}

/** The worker variables that send through the fake Messaggio. */
export function messaggioEnv(fake: FakeMessaggio): Record<string, string> {
  return {
    MESSAGGIO_API_KEY: 'test-login',
    MESSAGGIO_SENDER: 'OTPTEST',
    MESSAGGIO_BASE_URL: fake.baseUrl,
    OTP_DEBUG_FALLBACK: 'false',
  };
}

/**
 * What each test of a file starts, torn down after it whatever happened: the entry
 * processes, the private Redis, the fake Messaggio and any Redis connection it opened.
 * Call once at the top of a test file; start things inside the tests.
 */
export function useFaultsFixture() {
  let redis: PrivateRedis | undefined;
  let fake: FakeMessaggio | undefined;
  const connections: Redis[] = [];
  afterEach(async () => {
    killEntryProcesses();
    for (const connection of connections.splice(0)) connection.disconnect();
    await fake?.close();
    await redis?.destroy();
    fake = undefined;
    redis = undefined;
  });
  return {
    async startRedis(): Promise<PrivateRedis> {
      redis = await startPrivateRedis();
      return redis;
    },
    async startFake(): Promise<FakeMessaggio> {
      fake = await createFakeMessaggio();
      return fake;
    },
    /** A client of the test's own Redis, disconnected after the test. */
    connect(url: string): Redis {
      const connection = new Redis(url);
      connections.push(connection);
      return connection;
    },
  };
}

/** A KZ mobile number, unique within one test by its index. */
export function phone(i: number): string {
  return `+7708${String(1_000_000 + i).slice(-7)}`;
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  ms: number;
}

/** POST JSON over `agent` (keep-alive, bounded sockets); rejects only on a transport error. */
export function postJson(
  base: string,
  path: string,
  body: unknown,
  options: { agent?: Agent; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const started = performance.now();
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      {
        method: 'POST',
        agent: options.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            headers: res.headers,
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Waits until `check` is true, polling; fails with `what` after timeoutMs. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export { STARTUP_TIMEOUT_MS };

/** Prints a measured figure (the faults tier's report lines, grep `[faults]`). */
export function report(line: string): void {
  process.stdout.write(`[faults] ${line}\n`);
}

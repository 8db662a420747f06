import { Writable } from 'node:stream';
import { createLogger, type Env } from '@otp/core';
import { Redis } from 'ioredis';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import { createApp } from '../src/app.js';
import { type ApiConfig, loadApiConfig } from '../src/config.js';

/** Collects log lines in memory so tests can assert what was (and was not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestApi {
  app: Awaited<ReturnType<typeof createApp>>;
  config: ApiConfig;
  logs: LogCapture;
  /** A plain client on the same Redis, for assertions and cleanup. */
  redis: Redis;
  close(): Promise<void>;
}

/**
 * The real API (real Redis, real BullMQ queue) under a key prefix and queue name of its
 * own (or `prefix`'s, to share them: see apisSharingState). `env` overrides the test defaults.
 */
export async function buildTestApi(
  env: Env = {},
  options: { clock?: () => number; prefix?: string } = {},
): Promise<TestApi> {
  const prefix = options.prefix ?? uniquePrefix('api');
  const queueName = prefix.replaceAll(':', '-').replace(/-$/, '');
  const config = loadApiConfig({
    NODE_ENV: 'test',
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: queueName,
    OTP_SECRET: 'test-secret-0123456789abcdef0123456789',
    LOG_LEVEL: 'info',
    // Every inject() comes from 127.0.0.1; tests of the per-IP limit turn it back on.
    OTP_SENDS_PER_IP_PER_HOUR: '0',
    // The app shares its event loop with the test runner (fast-check loops, other apps),
    // whose lag says nothing about the app: on a busy machine it would shed test requests.
    // overload.test.ts and the faults tier test shedding.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    OTP_VERIFIES_PER_IP_PER_HOUR: '0',
    // Debug mode is an explicit opt-in; a test that sets a provider key runs without it.
    ...(env.MESSAGGIO_API_KEY ? {} : { OTP_DEBUG: 'true' }),
    ...env,
  });
  const logs = new LogCapture();
  const app = await createApp({
    config,
    logger: createLogger({ service: 'otp-api', level: 'info', stream: logs }),
    clock: options.clock,
  });
  await app.ready();
  const redis = new Redis(testRedisUrl());
  return {
    app,
    config,
    logs,
    redis,
    async close() {
      await app.close();
      await deleteKeys(
        redis,
        prefix,
        `${config.queuePrefix}:${queueName}:`,
        `${config.queuePrefix}:${queueName}-events:`,
      );
      await redis.quit();
    },
  };
}

/**
 * APIs on one key prefix and queue, each built with its own env: the deployments before,
 * during and after a secret rotation, say. `close()` closes every one and deletes the keys.
 */
export function apisSharingState(label: string) {
  const prefix = uniquePrefix(label);
  const built: TestApi[] = [];
  return {
    prefix,
    async build(env: Env): Promise<TestApi['app']> {
      const api = await buildTestApi(env, { prefix });
      built.push(api);
      return api.app;
    },
    /** A plain client on the same Redis (the first API's), once one is built. */
    get redis(): Redis {
      const first = built[0];
      if (!first) throw new Error('no API built yet');
      return first.redis;
    },
    async close() {
      for (const api of built) await api.close();
    },
  };
}

let phoneCounter = 0;
/** A valid KZ mobile no other test in this process uses. */
export function freshPhone(): string {
  phoneCounter += 1;
  const suffix = String((Date.now() * 1000 + process.pid + phoneCounter) % 10_000_000).padStart(7, '0');
  return `+7708${suffix}`;
}

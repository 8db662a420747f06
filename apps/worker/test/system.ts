import { createApp } from '@otp/api';
import { loadApiConfig } from '@otp/api/config';
import { createLogger, type Env } from '@otp/core';
import { createFakeMessaggio, type DeliveryReportOptions, type FakeMessaggio } from '@otp/messaggio/testing';
import { Redis } from 'ioredis';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import { LogCapture } from '../../api/test/helper.js';
import { loadWorkerConfig } from '../src/config.js';
import { createWorkerService, type WorkerService, type WorkerServiceOptions } from '../src/worker-service.js';

export const FAKE_LOGIN = 'e2e-project-login';
export const FAKE_SENDER = 'OTPTEST';
export const WEBHOOK_SECRET = 'e2e-webhook-secret-0123456789abcdefgh';

export interface System {
  api: Awaited<ReturnType<typeof createApp>>;
  worker?: WorkerService;
  fake: FakeMessaggio;
  apiLogs: LogCapture;
  workerLogs: LogCapture;
  redis: Redis;
  env: Env;
  startWorker(options?: WorkerServiceOptions): WorkerService;
  close(): Promise<void>;
}

/**
 * The real API and the real worker, in-process, on real Redis under their own prefix and
 * queue, talking to the fake Messaggio over HTTP. With `messaggio: false` no key is set
 * (debug mode) but the fake still runs, so a test can prove it was never called.
 */
export async function startSystem(options: {
  messaggio: boolean;
  env?: Env;
  startWorker?: boolean;
  /** The fake POSTs delivery reports to the API, which then listens on a free port. */
  deliveryReports?: boolean | DeliveryReportOptions;
  /**
   * The API listens on a free port and PUBLIC_BASE_URL points at it, so providers' callbacks
   * (e.g. the fake Twilio's) reach the real webhook routes over HTTP.
   */
  listen?: boolean;
  /** For the worker startSystem starts (e.g. the chain's providers). */
  worker?: WorkerServiceOptions;
}): Promise<System> {
  const fake = await createFakeMessaggio({
    logins: [FAKE_LOGIN],
    senders: [FAKE_SENDER],
    deliveryReports: options.deliveryReports,
  });
  const prefix = uniquePrefix('e2e');
  const queueName = prefix.replaceAll(':', '-').replace(/-$/, '');
  const env: Env = {
    NODE_ENV: 'test',
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: queueName,
    OTP_SECRET: 'e2e-secret-0123456789abcdef0123456789abcdef',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    SMS_RETRY_BASE_DELAY_MS: '20',
    SMS_RETRY_MAX_DELAY_MS: '200',
    WORKER_CONCURRENCY: '4',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // No HTTP port unless a test asks for one: parallel test files would fight over 9464.
    METRICS_PORT: '0',
    // The in-process API shares its event loop with the test runner: no lag shedding.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...(options.messaggio
      ? {
          MESSAGGIO_API_KEY: FAKE_LOGIN,
          MESSAGGIO_SENDER: FAKE_SENDER,
          MESSAGGIO_BASE_URL: fake.baseUrl,
          MESSAGGIO_TIMEOUT_MS: '500',
        }
      : { OTP_DEBUG: 'true' }),
    ...(options.deliveryReports ? { MESSAGGIO_WEBHOOK_SECRET: WEBHOOK_SECRET } : {}),
    ...options.env,
  };
  const apiLogs = new LogCapture();
  const workerLogs = new LogCapture();
  const api = await createApp({
    config: loadApiConfig(env),
    logger: createLogger({ service: 'otp-api', stream: apiLogs }),
  });
  await api.ready();
  if (options.deliveryReports || options.listen) {
    // The worker reads its config when it starts, after this: it learns where reports go.
    env.PUBLIC_BASE_URL = await api.listen({ port: 0, host: '127.0.0.1' });
  }
  const redis = new Redis(testRedisUrl());
  const system: System = {
    api,
    fake,
    apiLogs,
    workerLogs,
    redis,
    env,
    startWorker(workerOptions) {
      system.worker = createWorkerService(
        loadWorkerConfig(env),
        createLogger({ service: 'otp-worker', level: 'debug', stream: workerLogs }),
        workerOptions ?? options.worker,
      );
      return system.worker;
    },
    async close() {
      await system.worker?.close(2000);
      // The fake first: its delivery reports would otherwise keep knocking on a closed API.
      await fake.close();
      await api.close();
      await deleteKeys(redis, prefix, `bull:${queueName}:`, `bull:${queueName}-events:`);
      await redis.quit();
    },
  };
  if (options.startWorker ?? true) system.startWorker();
  return system;
}

/** Polls until `check` returns a value other than undefined, or fails naming `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 8000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

import { randomUUID } from 'node:crypto';
import { createApp } from '@otp/api';
import { loadApiConfig } from '@otp/api/config';
import { createLogger, createRedisClient, type Env, parseClusterNodes, type RedisClient } from '@otp/core';
import { createFakeMessaggio, type FakeMessaggio } from '@otp/messaggio/testing';
import { inject } from 'vitest';
import { LogCapture } from '../../apps/api/test/helper.js';
import { loadWorkerConfig } from '../../apps/worker/src/config.js';
import { createWorkerService, type WorkerService } from '../../apps/worker/src/worker-service.js';

export const FAKE_LOGIN = 'cluster-project-login';
export const FAKE_SENDER = 'OTPTEST';

export interface ClusterSystem {
  api: Awaited<ReturnType<typeof createApp>>;
  workers: WorkerService[];
  fake: FakeMessaggio;
  apiLogs: LogCapture;
  /** A cluster client of the test's own, for assertions. */
  redis: RedisClient;
  env: Env;
  prefix: string;
  startWorker(): WorkerService;
  send(
    phone: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  verify(phone: string, code: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The code the fake Messaggio delivered last to `phone`. */
  codeSentTo(phone: string): string | undefined;
  close(): Promise<void>;
}

/** The cluster tier's seed nodes (REDIS_CLUSTER_NODES). */
export function clusterNodes(): string {
  return inject('clusterNodes');
}

/** A cluster client for a test's own reads and writes. */
export function clusterClient(): RedisClient {
  const client = createRedisClient(
    { cluster: parseClusterNodes(clusterNodes()) },
    { maxRetriesPerRequest: 3 },
  );
  client.on('error', () => {});
  return client;
}

/**
 * The real API (in-process, inject) and real workers on the tier's Redis Cluster, under a
 * key prefix and queue name of their own, sending through the fake Messaggio over HTTP.
 */
export async function startClusterSystem(
  options: { env?: Env; workers?: number } = {},
): Promise<ClusterSystem> {
  const fake = await createFakeMessaggio({ logins: [FAKE_LOGIN], senders: [FAKE_SENDER] });
  const id = randomUUID().slice(0, 8);
  const prefix = `cl:${id}:`;
  const env: Env = {
    NODE_ENV: 'test',
    REDIS_CLUSTER_NODES: clusterNodes(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: `cl-${id}`,
    OTP_SECRET: 'cluster-secret-0123456789abcdef0123456789',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    SMS_RETRY_BASE_DELAY_MS: '50',
    SMS_RETRY_MAX_DELAY_MS: '500',
    WORKER_CONCURRENCY: '8',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    OTP_SENDS_PER_IP_PER_HOUR: '0',
    OTP_VERIFIES_PER_IP_PER_HOUR: '0',
    OTP_SENDS_PER_PHONE_PER_HOUR: '0',
    OTP_SENDS_PER_PHONE_PER_DAY: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
    METRICS_PORT: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    MESSAGGIO_API_KEY: FAKE_LOGIN,
    MESSAGGIO_SENDER: FAKE_SENDER,
    MESSAGGIO_BASE_URL: fake.baseUrl,
    MESSAGGIO_TIMEOUT_MS: '2000',
    OTP_DEBUG_FALLBACK: 'false',
    ...options.env,
  };
  const apiLogs = new LogCapture();
  const api = await createApp({
    config: loadApiConfig(env),
    logger: createLogger({ service: 'otp-api', stream: apiLogs }),
  });
  await api.ready();
  const redis = clusterClient();
  const workerLogs = new LogCapture();
  const system: ClusterSystem = {
    api,
    workers: [],
    fake,
    apiLogs,
    redis,
    env,
    prefix,
    startWorker() {
      const worker = createWorkerService(
        loadWorkerConfig(env),
        createLogger({ service: 'otp-worker', stream: workerLogs }),
      );
      system.workers.push(worker);
      return worker;
    },
    async send(phone, headers = {}) {
      const res = await api.inject({
        method: 'POST',
        url: '/send-otp/',
        payload: { phone_number: phone },
        headers,
      });
      return { status: res.statusCode, body: res.json() };
    },
    async verify(phone, code) {
      const res = await api.inject({
        method: 'POST',
        url: '/verify-otp/',
        payload: { phone_number: phone, code },
      });
      return { status: res.statusCode, body: res.json() };
    },
    codeSentTo(phone) {
      const sent = fake.sent.filter((message) => message.phone.replace(/^\+?/, '+') === phone).at(-1);
      return sent?.text.match(/(\d{6})$/)?.[1];
    },
    async close() {
      await Promise.all(system.workers.map((worker) => worker.close(2000)));
      await fake.close();
      await api.close();
      redis.disconnect();
    },
  };
  for (let i = 0; i < (options.workers ?? 1); i++) system.startWorker();
  return system;
}

/** Polls until `check` is true, or fails naming `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

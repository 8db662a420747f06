// Every environment variable the benchmark hands to the processes it starts, in one place,
// so a renamed or new variable in the config schemas (apps/api/src/config.ts,
// apps/worker/src/config.ts, packages/core/src/config/env.ts) is one edit here.
//
// The service runs as a user runs it in production: NODE_ENV=production, a strong random
// OTP_SECRET, the real Messaggio provider path (pointed at the fake), every protection on
// at its default except the per-IP send limit (every request comes from 127.0.0.1).
import { createHash, randomBytes } from 'node:crypto';

/** The fake Messaggio accepts only this login and sender, as the real one would. */
export const FAKE_LOGIN = 'bench-login';
export const FAKE_SENDER = 'BENCH';

/** The service's queue, spelled out so the bench can pause it and count its jobs. */
export const SERVICE_QUEUE = { name: 'otp-sms', prefix: 'bull' } as const;
/** The naive baselines' queue (the naive send route fills it, the plain worker drains it). */
export const NAIVE_QUEUE = { name: 'naive-sms', prefix: 'bull' } as const;

/** What the API and worker need to find each other and the fake. */
export interface Wiring {
  redisUrl: string;
  /** The fake's base URL, ending in /api/v1. */
  fakeBaseUrl: string;
}

/** Secrets made fresh for each run: nothing here is a credential anywhere else. */
export interface BenchSecrets {
  /** 64 hex characters, as `openssl rand -hex 32` makes. */
  otpSecret: string;
  /** The key clients present; only its SHA-256 goes into API_KEYS. */
  apiKey: string;
}

export function makeSecrets(): BenchSecrets {
  return { otpSecret: randomBytes(32).toString('hex'), apiKey: randomBytes(24).toString('hex') };
}

/** Per-minute quota of the bench's API key: on (so the quota is checked), never reached. */
const API_KEY_QUOTA_PER_MINUTE = 100_000_000;

function sharedEnv(wiring: Wiring, secrets: BenchSecrets): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    REDIS_URL: wiring.redisUrl,
    QUEUE_NAME: SERVICE_QUEUE.name,
    QUEUE_PREFIX: SERVICE_QUEUE.prefix,
    OTP_SECRET: secrets.otpSecret,
    MESSAGGIO_API_KEY: FAKE_LOGIN,
    MESSAGGIO_BASE_URL: wiring.fakeBaseUrl,
    MESSAGGIO_SENDER: FAKE_SENDER,
  };
}

export function apiEnv(
  wiring: Wiring,
  secrets: BenchSecrets,
  options: { port: number; withApiKey: boolean },
): Record<string, string> {
  const keyHash = createHash('sha256').update(secrets.apiKey, 'utf8').digest('hex');
  return {
    ...sharedEnv(wiring, secrets),
    HOST: '127.0.0.1',
    PORT: String(options.port),
    // Every request comes from 127.0.0.1: a per-address limit would measure refusals (the
    // per-IP send limit, the failed-verify limit per address, the in-memory request rate).
    OTP_SENDS_PER_IP_PER_HOUR: '0',
    OTP_VERIFIES_PER_IP_PER_HOUR: '0',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    // The daily budget stays on (its counter is part of the cost), far above what a run sends.
    SMS_DAILY_BUDGET: '100000000',
    ...(options.withApiKey ? { API_KEYS: `bench:${keyHash}:${API_KEY_QUOTA_PER_MINUTE}` } : {}),
  };
}

export function workerEnv(
  wiring: Wiring,
  secrets: BenchSecrets,
  options: { concurrency: number; metricsPort: number },
): Record<string, string> {
  return {
    ...sharedEnv(wiring, secrets),
    WORKER_CONCURRENCY: String(options.concurrency),
    // /health/ready tells the bench when the worker is up.
    METRICS_PORT: String(options.metricsPort),
    METRICS_HOST: '127.0.0.1',
  };
}

/** The baselines read their settings from these (bench/baselines/*.ts). */
export function naiveApiEnv(wiring: Wiring): Record<string, string> {
  return { REDIS_URL: wiring.redisUrl, QUEUE_NAME: NAIVE_QUEUE.name, QUEUE_PREFIX: NAIVE_QUEUE.prefix };
}

export function plainWorkerEnv(wiring: Wiring, concurrency: number): Record<string, string> {
  return {
    ...naiveApiEnv(wiring),
    CONCURRENCY: String(concurrency),
    FAKE_BASE_URL: wiring.fakeBaseUrl,
    FAKE_LOGIN,
    FAKE_SENDER,
  };
}

/** `--set NAME=VALUE` options as variables for the service's processes (e.g. FRAUD_GUARD=off). */
export function parseOverrides(items: readonly string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const item of items) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(item);
    if (!match) throw new Error(`--set takes NAME=VALUE (an environment variable), got "${item}"`);
    overrides[match[1] as string] = match[2] as string;
  }
  return overrides;
}

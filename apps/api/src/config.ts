import { readFileSync } from 'node:fs';
import {
  ConfigError,
  collectProblems,
  type Env,
  type EventJobOptionsInput,
  EventsEnv,
  isKnownCountry,
  parseEnv,
  type RedisTarget,
  resolveDebugMode,
  resolveOtpSecret,
  resolvePreviousSecret,
  resolveRedisTarget,
  SharedEnv,
  splitList,
} from '@otp/core';
import { createWebhookHandlers, WebhookEnv } from '@otp/providers';
import type { WebhookHandler } from '@otp/sms';
import Type, { type Static } from 'typebox';
import { type AdminCredentials, parseAdminCredentials } from './auth/admin-credentials.js';
import { type ApiKeyEntry, applyAppHashes, parseApiKeys } from './auth/api-keys.js';
import {
  parseBlockedPrefixes,
  parseCountryLimits,
  parseTestNumbers,
  parseTrustProxy,
} from './auth/parse-lists.js';
import type { OverloadLimits } from './plugins/overload.js';
import type { FraudSettings } from './services/fraud-guard.js';
import type { SendLimitSettings } from './services/send-limits.js';
import { parseSigningKey, type VerificationTokenSettings } from './services/verification-tokens.js';

export const ApiEnv = Type.Object({
  ...SharedEnv,
  ...EventsEnv,
  HOST: Type.String({ default: '0.0.0.0' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65_535 }),
  ALLOWED_COUNTRIES: Type.String({ default: 'RU,KZ' }),
  OTP_RESEND_COOLDOWN_SECONDS: Type.Integer({ default: 60, minimum: 0, maximum: 86_400 }),
  // Unset: retry until shortly before the code expires (the worker's guard), not a count.
  SMS_MAX_ATTEMPTS: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  SMS_RETRY_BASE_DELAY_MS: Type.Integer({ default: 2000, minimum: 10, maximum: 600_000 }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 4096, minimum: 256, maximum: 1_048_576 }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 50, maximum: 60_000 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 0, maximum: 300_000 }),
  // Load shedding (503 SERVICE_OVERLOADED); 0 turns a check off. The defaults are far above
  // what a saturating 100-connection benchmark reaches (see README, Faults and survival).
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ default: 1000, minimum: 0, maximum: 60_000 }),
  OVERLOAD_MAX_HEAP_USED_MB: Type.Integer({ default: 1024, minimum: 0, maximum: 1_048_576 }),
  OVERLOAD_MAX_RSS_MB: Type.Integer({ default: 1536, minimum: 0, maximum: 1_048_576 }),
  OVERLOAD_RETRY_AFTER_SECONDS: Type.Integer({ default: 5, minimum: 1, maximum: 3600 }),
  API_KEYS: Type.String({ default: '' }),
  // Per-key limit on `app_hash` (Android SMS Retriever): name:hash, comma-separated.
  API_KEY_APP_HASHES: Type.String({ default: '' }),
  // Each provider's delivery-report webhook (MESSAGGIO_WEBHOOK_SECRET, …), from @otp/providers.
  ...WebhookEnv,
  // The API's public address: webhooks that sign their URL (Twilio) are checked against it.
  PUBLIC_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 512 })),
  OTP_SENDS_PER_PHONE_PER_HOUR: Type.Integer({ default: 5, minimum: 0 }),
  OTP_SENDS_PER_PHONE_PER_DAY: Type.Integer({ default: 10, minimum: 0 }),
  OTP_SENDS_PER_IP_PER_HOUR: Type.Integer({ default: 20, minimum: 0 }),
  // Failed verifies per (phone, client) per hour: one client cannot lock out another.
  OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: Type.Integer({ default: 10, minimum: 0 }),
  // Failed verifies per phone per hour across all clients; at it the number is locked.
  OTP_FAILED_VERIFIES_PER_PHONE_CEILING: Type.Integer({ default: 100, minimum: 0 }),
  // Failed verifies per caller address per hour, across numbers (API keys have quotas).
  OTP_VERIFIES_PER_IP_PER_HOUR: Type.Integer({ default: 100, minimum: 0 }),
  SMS_COUNTRY_DAILY_LIMITS: Type.String({ default: '' }),
  // A default install cannot be drained without limit; 0 turns the budget off.
  SMS_DAILY_BUDGET: Type.Integer({ default: 10_000, minimum: 0 }),
  // Per-IP limits count an IPv6 caller by this prefix (one subscriber holds a whole /64).
  IPV6_PREFIX_LENGTH: Type.Integer({ default: 64, minimum: 56, maximum: 64 }),
  // Requests per minute per address, in each API process's memory (no Redis); 0 = off.
  RATE_LIMIT_PER_IP_PER_MINUTE: Type.Integer({ default: 600, minimum: 0 }),
  // The whole request (headers and body) must arrive within this; slow bodies are cut off.
  REQUEST_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 1000, maximum: 600_000 }),
  // An idle or stalled socket is closed after this.
  CONNECTION_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 1000, maximum: 600_000 }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  BLOCKED_PREFIXES: Type.String({ default: '' }),
  TEST_PHONE_NUMBERS: Type.String({ default: '' }),
  // Admin routes (Bull Board, /metrics): Basic user and password, and/or a key's SHA-256.
  ADMIN_USER: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 12, maxLength: 256 })),
  ADMIN_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  // The fraud guard (README, Fraud guard): defaults from `pnpm simulate:pumping`.
  FRAUD_GUARD: Type.Union([Type.Literal('off'), Type.Literal('record_only'), Type.Literal('enforce')], {
    default: 'record_only',
  }),
  // National digits naming a number range; auto = all but the last 4 (~10,000 numbers).
  FRAUD_PREFIX_DIGITS: Type.String({ default: 'auto', pattern: '^(auto|[1-9][0-9]?)$' }),
  FRAUD_WINDOW_MINUTES: Type.Integer({ default: 10, minimum: 1, maximum: 60 }),
  FRAUD_MIN_SENDS: Type.Integer({ default: 20, minimum: 1 }),
  FRAUD_SURGE_FACTOR: Type.Number({ default: 5, minimum: 1 }),
  FRAUD_MIN_CONVERSION: Type.Number({ default: 0.3, minimum: 0, maximum: 1 }),
  FRAUD_CONVERSION_MIN_SAMPLE: Type.Integer({ default: 8, minimum: 1 }),
  FRAUD_CONVERSION_MIN_AGE_MINUTES: Type.Integer({ default: 2, minimum: 1, maximum: 60 }),
  FRAUD_CONVERSION_MAX_AGE_MINUTES: Type.Integer({ default: 15, minimum: 2, maximum: 120 }),
  FRAUD_BLOCK_SECONDS: Type.String({ default: '900,3600,43200' }),
  FRAUD_ESCALATION_RESET_SECONDS: Type.Integer({ default: 86_400, minimum: 60 }),
  FRAUD_VERIFIED_EXEMPT_DAYS: Type.Integer({ default: 180, minimum: 1, maximum: 3650 }),
  FRAUD_PASSES_PER_BLOCK: Type.Integer({ default: 10, minimum: 0 }),
  // The signed `verification_token` of a right code (README, Signed verification results).
  // The `purpose` values a send may carry (comma-separated; each a-z, 0-9, _ or -, ≤ 32).
  OTP_PURPOSES: Type.String({ default: 'login,signup,reset' }),
  // A resend within a code's life sends the same code (kept sealed beside its digest).
  OTP_RESEND_SAME_CODE: Type.Boolean({ default: true }),
  VERIFICATION_TOKEN_TTL_SECONDS: Type.Integer({ default: 300, minimum: 10, maximum: 86_400 }),
  VERIFICATION_TOKEN_ISSUER: Type.String({ default: 'otp-service', minLength: 1, maxLength: 512 }),
  VERIFICATION_TOKEN_AUDIENCE: Type.String({ default: 'otp-service-clients', minLength: 1, maxLength: 512 }),
  // An Ed25519 or P-256 PKCS#8 PEM, inline or in a file; unset = generated, kept sealed in Redis.
  VERIFICATION_TOKEN_PRIVATE_KEY: Type.Optional(Type.String({ minLength: 1 })),
  VERIFICATION_TOKEN_PRIVATE_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
});
export type ApiEnv = Static<typeof ApiEnv>;

export interface ApiConfig {
  nodeEnv: ApiEnv['NODE_ENV'];
  host: string;
  port: number;
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster instead of REDIS_URL. @defaultValue one Redis */
  redisCluster?: RedisTarget['cluster'];
  redisKeyPrefix: string;
  redisCommandTimeoutMs: number;
  queueName: string;
  queuePrefix: string;
  /** QUEUE_SHARDS: send queues, picked by phone. @defaultValue 1 */
  queueShards?: number;
  otpSecret: string;
  /** OTP_SECRET_PREVIOUS: still opens codes and jobs made before a rotation. */
  otpSecretPrevious?: string;
  /** True while the built-in development secret is in use (never in production). */
  insecureSecret: boolean;
  otpLength: number;
  otpTtlSeconds: number;
  otpMaxAttempts: number;
  resendCooldownSeconds: number;
  /** OTP_RESEND_SAME_CODE: a resend within a code's life sends the same code. */
  resendSameCode: boolean;
  allowedCountries: string[];
  /** Caps delivery attempts; undefined = retry until shortly before the code expires. */
  smsMaxAttempts: number | undefined;
  smsRetryBaseDelayMs: number;
  /** OTP_DEBUG: answers carry `debug_code` (unless a live worker runs a real provider). */
  debugMode: boolean;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  /** Load shedding limits (plugins/overload.ts). */
  overload: OverloadLimits;
  /** Client API keys; empty = open API. */
  apiKeys: ApiKeyEntry[];
  /** The configured providers' delivery-report webhooks, mounted at /webhooks/<provider>. */
  webhooks: WebhookHandler[];
  /** PUBLIC_BASE_URL without a trailing slash: the URL a provider called, for signed webhooks. */
  publicBaseUrl?: string;
  /**
   * Set with EVENTS_WEBHOOK_URL: status changes written here (verified, canceled, delivery
   * reports, and each send's expiry check) are queued for the worker to deliver.
   */
  events?: { jobOptions: Required<EventJobOptionsInput> };
  /** Send limits (0 = off); see services/send-limits.ts. */
  limits: Omit<SendLimitSettings, 'keyPrefix'>;
  /** Failed verifies per (phone, client) per hour, across codes; 0 = off. */
  failedVerifiesPerHour: number;
  /** Failed verifies per phone per hour across all clients; 0 = off. */
  failedVerifiesCeiling: number;
  /** Failed verifies per caller address per hour (not API keys); 0 = off. */
  failedVerifiesPerIpPerHour: number;
  /** IPv6 callers are counted per this prefix length (56-64). */
  ipv6PrefixLength: number;
  /** Requests per minute per address, in process memory; 0 = off. */
  rateLimitPerIpPerMinute: number;
  /** Fastify requestTimeout: the whole request must arrive within this. */
  requestTimeoutMs: number;
  /** Fastify connectionTimeout: an idle socket is closed after this. */
  connectionTimeoutMs: number;
  /** Fastify trustProxy: whether (and which) X-Forwarded-For to believe. */
  trustProxy: boolean | number | string[];
  /** E.164 prefixes refused with 403 PHONE_BLOCKED. */
  blockedPrefixes: string[];
  /** Fixed codes for app-store reviewers and QA; no SMS is sent to these. */
  testNumbers: Map<string, string>;
  /** Admin credentials; undefined = admin routes off (404), /metrics open. */
  admin: AdminCredentials | undefined;
  /** The `purpose` values a send may carry. */
  purposes: string[];
  /** The fraud guard's mode and thresholds (services/fraud-guard.ts). */
  fraud: FraudSettings;
  /** How `verification_token` is signed; the key imported once here. */
  verificationToken: VerificationTokenSettings;
  logLevel: string;
  logFile?: string;
}

export interface LoadConfigOptions {
  /** Reads VERIFICATION_TOKEN_PRIVATE_KEY_FILE. @defaultValue fs.readFileSync as UTF-8 */
  readFile?: (path: string) => string;
}

function signingKeyFrom(e: ApiEnv, readFile: (path: string) => string) {
  if (e.VERIFICATION_TOKEN_PRIVATE_KEY !== undefined && e.VERIFICATION_TOKEN_PRIVATE_KEY_FILE !== undefined) {
    throw new ConfigError([
      'VERIFICATION_TOKEN_PRIVATE_KEY and VERIFICATION_TOKEN_PRIVATE_KEY_FILE: set one, not both',
    ]);
  }
  if (e.VERIFICATION_TOKEN_PRIVATE_KEY !== undefined) {
    try {
      return parseSigningKey(e.VERIFICATION_TOKEN_PRIVATE_KEY);
    } catch (err) {
      throw new ConfigError([`VERIFICATION_TOKEN_PRIVATE_KEY: ${(err as Error).message}`]);
    }
  }
  const path = e.VERIFICATION_TOKEN_PRIVATE_KEY_FILE;
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFile(path);
  } catch (err) {
    throw new ConfigError([
      `VERIFICATION_TOKEN_PRIVATE_KEY_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  try {
    return parseSigningKey(pem);
  } catch (err) {
    throw new ConfigError([`VERIFICATION_TOKEN_PRIVATE_KEY_FILE: ${path} ${(err as Error).message}`]);
  }
}

/** Reads and checks every variable the API uses; throws a ConfigError naming each bad one. */
export function loadApiConfig(env: Env, options: LoadConfigOptions = {}): ApiConfig {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const problems: string[] = [];
  const e = parseEnv(ApiEnv, env, problems);
  const allowedCountries = splitList(e.ALLOWED_COUNTRIES).map((c) => c.toUpperCase());
  const unknown = allowedCountries.filter((c) => !isKnownCountry(c));
  if (allowedCountries.length === 0)
    problems.push('ALLOWED_COUNTRIES: must name at least one country (e.g. RU,KZ)');
  if (unknown.length > 0) problems.push(`ALLOWED_COUNTRIES: unknown country code(s) ${unknown.join(', ')}`);
  const apiKeys =
    collectProblems(problems, () => applyAppHashes(parseApiKeys(e.API_KEYS), e.API_KEY_APP_HASHES)) ?? [];
  const countryDaily = collectProblems(problems, () => parseCountryLimits(e.SMS_COUNTRY_DAILY_LIMITS)) ?? {};
  const blockedPrefixes = collectProblems(problems, () => parseBlockedPrefixes(e.BLOCKED_PREFIXES)) ?? [];
  const testNumbers =
    collectProblems(problems, () => parseTestNumbers(e.TEST_PHONE_NUMBERS, e.OTP_LENGTH)) ??
    new Map<string, string>();
  const admin = collectProblems(problems, () =>
    parseAdminCredentials({ user: e.ADMIN_USER, password: e.ADMIN_PASSWORD, apiKeySha256: e.ADMIN_API_KEY }),
  );
  // The API sends no SMS itself; a provider's credentials here say "this deployment sends
  // real SMS" (a Twilio-only deployment too): its answers must then never carry the code.
  const providerConfigured = e.MESSAGGIO_API_KEY !== undefined || e.TWILIO_AUTH_TOKEN !== undefined;
  const secret = collectProblems(problems, () =>
    resolveOtpSecret(e.NODE_ENV, e.OTP_SECRET, providerConfigured),
  );
  const debugMode = collectProblems(problems, () =>
    resolveDebugMode(e.NODE_ENV, e.OTP_DEBUG, providerConfigured, 'MESSAGGIO_API_KEY or TWILIO_AUTH_TOKEN'),
  );
  const previousSecret = collectProblems(problems, () =>
    resolvePreviousSecret(e.NODE_ENV, e.OTP_SECRET_PREVIOUS, e.OTP_SECRET),
  );
  const purposes = splitList(e.OTP_PURPOSES);
  const badPurposes = purposes.filter((p) => !/^[a-z0-9_-]{1,32}$/.test(p));
  if (badPurposes.length > 0) {
    problems.push(`OTP_PURPOSES: each must be 1-32 of a-z, 0-9, _ or - (not ${badPurposes.join(', ')})`);
  }
  const signingKey = collectProblems(problems, () => signingKeyFrom(e, readFile));
  const redisTarget = collectProblems(problems, () => resolveRedisTarget(env, e));
  const blockSeconds = splitList(e.FRAUD_BLOCK_SECONDS).map(Number);
  if (blockSeconds.length === 0 || blockSeconds.some((s) => !Number.isInteger(s) || s < 1)) {
    problems.push('FRAUD_BLOCK_SECONDS: must list whole seconds per offence, e.g. 900,3600,43200');
  }
  if (e.FRAUD_CONVERSION_MIN_AGE_MINUTES >= e.FRAUD_CONVERSION_MAX_AGE_MINUTES) {
    problems.push('FRAUD_CONVERSION_MIN_AGE_MINUTES: must be below FRAUD_CONVERSION_MAX_AGE_MINUTES');
  }
  if (problems.length > 0 || !secret || debugMode === undefined) throw new ConfigError(problems);
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    ...(redisTarget?.cluster ? { redisCluster: redisTarget.cluster } : {}),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    queueName: e.QUEUE_NAME,
    queuePrefix: e.QUEUE_PREFIX,
    queueShards: e.QUEUE_SHARDS,
    otpSecret: secret.secret,
    ...(previousSecret === undefined ? {} : { otpSecretPrevious: previousSecret }),
    insecureSecret: secret.insecureDefault,
    otpLength: e.OTP_LENGTH,
    otpTtlSeconds: e.OTP_TTL_SECONDS,
    otpMaxAttempts: e.OTP_MAX_ATTEMPTS,
    resendCooldownSeconds: e.OTP_RESEND_COOLDOWN_SECONDS,
    resendSameCode: e.OTP_RESEND_SAME_CODE,
    allowedCountries,
    smsMaxAttempts: e.SMS_MAX_ATTEMPTS,
    smsRetryBaseDelayMs: e.SMS_RETRY_BASE_DELAY_MS,
    debugMode,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    overload: {
      maxEventLoopDelayMs: e.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: e.OVERLOAD_MAX_HEAP_USED_MB * 1024 * 1024,
      maxRssBytes: e.OVERLOAD_MAX_RSS_MB * 1024 * 1024,
      retryAfterSeconds: e.OVERLOAD_RETRY_AFTER_SECONDS,
    },
    apiKeys,
    webhooks: createWebhookHandlers(e),
    ...(e.PUBLIC_BASE_URL ? { publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, '') } : {}),
    ...(e.EVENTS_WEBHOOK_URL
      ? {
          events: {
            jobOptions: { maxAttempts: e.EVENTS_MAX_ATTEMPTS, backoffDelayMs: e.EVENTS_RETRY_BASE_DELAY_MS },
          },
        }
      : {}),
    limits: {
      perPhonePerHour: e.OTP_SENDS_PER_PHONE_PER_HOUR,
      perPhonePerDay: e.OTP_SENDS_PER_PHONE_PER_DAY,
      perIpPerHour: e.OTP_SENDS_PER_IP_PER_HOUR,
      countryDaily,
      dailyBudget: e.SMS_DAILY_BUDGET,
      verifyCeiling: e.OTP_FAILED_VERIFIES_PER_PHONE_CEILING,
    },
    failedVerifiesPerHour: e.OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR,
    failedVerifiesCeiling: e.OTP_FAILED_VERIFIES_PER_PHONE_CEILING,
    failedVerifiesPerIpPerHour: e.OTP_VERIFIES_PER_IP_PER_HOUR,
    ipv6PrefixLength: e.IPV6_PREFIX_LENGTH,
    rateLimitPerIpPerMinute: e.RATE_LIMIT_PER_IP_PER_MINUTE,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    connectionTimeoutMs: e.CONNECTION_TIMEOUT_MS,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    blockedPrefixes,
    testNumbers,
    admin,
    purposes,
    fraud: {
      mode: e.FRAUD_GUARD,
      rangeDigits: e.FRAUD_PREFIX_DIGITS === 'auto' ? 'auto' : Number(e.FRAUD_PREFIX_DIGITS),
      windowMinutes: e.FRAUD_WINDOW_MINUTES,
      minSends: e.FRAUD_MIN_SENDS,
      surgeFactor: e.FRAUD_SURGE_FACTOR,
      minConversion: e.FRAUD_MIN_CONVERSION,
      conversionMinSample: e.FRAUD_CONVERSION_MIN_SAMPLE,
      conversionMinAgeMinutes: e.FRAUD_CONVERSION_MIN_AGE_MINUTES,
      conversionMaxAgeMinutes: e.FRAUD_CONVERSION_MAX_AGE_MINUTES,
      blockSeconds,
      escalationResetSeconds: e.FRAUD_ESCALATION_RESET_SECONDS,
      verifiedExemptSeconds: e.FRAUD_VERIFIED_EXEMPT_DAYS * 86_400,
      passesPerBlock: e.FRAUD_PASSES_PER_BLOCK,
    },
    verificationToken: {
      ttlSeconds: e.VERIFICATION_TOKEN_TTL_SECONDS,
      issuer: e.VERIFICATION_TOKEN_ISSUER,
      audience: e.VERIFICATION_TOKEN_AUDIENCE,
      ...(signingKey ? { signingKey } : {}),
    },
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE,
  };
}

import {
  ConfigError,
  collectProblems,
  type Env,
  isKnownCountry,
  parseEnv,
  resolveDebugMode,
  resolveOtpSecret,
  SharedEnv,
  splitList,
} from '@otp/core';
import { createWebhookHandlers, WebhookEnv } from '@otp/providers';
import type { WebhookHandler } from '@otp/sms';
import Type, { type Static } from 'typebox';
import { type AdminCredentials, parseAdminCredentials } from './auth/admin-credentials.js';
import { type ApiKeyEntry, parseApiKeys } from './auth/api-keys.js';
import {
  parseBlockedPrefixes,
  parseCountryLimits,
  parseTestNumbers,
  parseTrustProxy,
} from './auth/parse-lists.js';
import type { SendLimitSettings } from './services/send-limits.js';

export const ApiEnv = Type.Object({
  ...SharedEnv,
  HOST: Type.String({ default: '0.0.0.0' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65_535 }),
  ALLOWED_COUNTRIES: Type.String({ default: 'RU,KZ' }),
  OTP_RESEND_COOLDOWN_SECONDS: Type.Integer({ default: 60, minimum: 0, maximum: 86_400 }),
  SMS_MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1, maximum: 50 }),
  SMS_RETRY_BASE_DELAY_MS: Type.Integer({ default: 2000, minimum: 10, maximum: 600_000 }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 4096, minimum: 256, maximum: 1_048_576 }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 50, maximum: 60_000 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 0, maximum: 300_000 }),
  API_KEYS: Type.String({ default: '' }),
  // Each provider's delivery-report webhook (MESSAGGIO_WEBHOOK_SECRET, …), from @otp/providers.
  ...WebhookEnv,
  // The API's public address: webhooks that sign their URL (Twilio) are checked against it.
  PUBLIC_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 512 })),
  OTP_SENDS_PER_PHONE_PER_HOUR: Type.Integer({ default: 5, minimum: 0 }),
  OTP_SENDS_PER_PHONE_PER_DAY: Type.Integer({ default: 10, minimum: 0 }),
  OTP_SENDS_PER_IP_PER_HOUR: Type.Integer({ default: 20, minimum: 0 }),
  OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: Type.Integer({ default: 10, minimum: 0 }),
  SMS_COUNTRY_DAILY_LIMITS: Type.String({ default: '' }),
  SMS_DAILY_BUDGET: Type.Integer({ default: 0, minimum: 0 }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  BLOCKED_PREFIXES: Type.String({ default: '' }),
  TEST_PHONE_NUMBERS: Type.String({ default: '' }),
  // Admin routes (Bull Board, /metrics): Basic user and password, and/or a key's SHA-256.
  ADMIN_USER: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 12, maxLength: 256 })),
  ADMIN_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
});
export type ApiEnv = Static<typeof ApiEnv>;

export interface ApiConfig {
  nodeEnv: ApiEnv['NODE_ENV'];
  host: string;
  port: number;
  redisUrl: string;
  redisKeyPrefix: string;
  redisCommandTimeoutMs: number;
  queueName: string;
  queuePrefix: string;
  otpSecret: string;
  /** True while the built-in development secret is in use (never in production). */
  insecureSecret: boolean;
  otpLength: number;
  otpTtlSeconds: number;
  otpMaxAttempts: number;
  resendCooldownSeconds: number;
  allowedCountries: string[];
  smsMaxAttempts: number;
  smsRetryBaseDelayMs: number;
  /** No provider credentials (Messaggio key or Twilio token): answers carry `debug_code`. */
  debugMode: boolean;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  /** Client API keys; empty = open API. */
  apiKeys: ApiKeyEntry[];
  /** The configured providers' delivery-report webhooks, mounted at /webhooks/<provider>. */
  webhooks: WebhookHandler[];
  /** PUBLIC_BASE_URL without a trailing slash: the URL a provider called, for signed webhooks. */
  publicBaseUrl?: string;
  /** Send limits (0 = off); see services/send-limits.ts. */
  limits: Omit<SendLimitSettings, 'keyPrefix'>;
  /** Wrong verifies per phone per hour, across codes; 0 = off. */
  failedVerifiesPerHour: number;
  /** Fastify trustProxy: whether (and which) X-Forwarded-For to believe. */
  trustProxy: boolean | number | string[];
  /** E.164 prefixes refused with 403 PHONE_BLOCKED. */
  blockedPrefixes: string[];
  /** Fixed codes for app-store reviewers and QA; no SMS is sent to these. */
  testNumbers: Map<string, string>;
  /** Admin credentials; undefined = admin routes off (404), /metrics open. */
  admin: AdminCredentials | undefined;
  logLevel: string;
  logFile?: string;
}

/** Reads and checks every variable the API uses; throws a ConfigError naming each bad one. */
export function loadApiConfig(env: Env): ApiConfig {
  const e = parseEnv(ApiEnv, env);
  const problems: string[] = [];
  const allowedCountries = splitList(e.ALLOWED_COUNTRIES).map((c) => c.toUpperCase());
  const unknown = allowedCountries.filter((c) => !isKnownCountry(c));
  if (allowedCountries.length === 0)
    problems.push('ALLOWED_COUNTRIES: must name at least one country (e.g. RU,KZ)');
  if (unknown.length > 0) problems.push(`ALLOWED_COUNTRIES: unknown country code(s) ${unknown.join(', ')}`);
  const apiKeys = collectProblems(problems, () => parseApiKeys(e.API_KEYS)) ?? [];
  const countryDaily = collectProblems(problems, () => parseCountryLimits(e.SMS_COUNTRY_DAILY_LIMITS)) ?? {};
  const blockedPrefixes = collectProblems(problems, () => parseBlockedPrefixes(e.BLOCKED_PREFIXES)) ?? [];
  const testNumbers =
    collectProblems(problems, () => parseTestNumbers(e.TEST_PHONE_NUMBERS, e.OTP_LENGTH)) ??
    new Map<string, string>();
  const admin = collectProblems(problems, () =>
    parseAdminCredentials({ user: e.ADMIN_USER, password: e.ADMIN_PASSWORD, apiKeySha256: e.ADMIN_API_KEY }),
  );
  const secret = collectProblems(problems, () => resolveOtpSecret(e.NODE_ENV, e.OTP_SECRET));
  // A Twilio-only deployment sends real SMS too: its answers must not carry the code.
  const debugMode = collectProblems(problems, () =>
    resolveDebugMode(e.NODE_ENV, e.MESSAGGIO_API_KEY ?? e.TWILIO_AUTH_TOKEN),
  );
  if (problems.length > 0 || !secret || debugMode === undefined) throw new ConfigError(problems);
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    queueName: e.QUEUE_NAME,
    queuePrefix: e.QUEUE_PREFIX,
    otpSecret: secret.secret,
    insecureSecret: secret.insecureDefault,
    otpLength: e.OTP_LENGTH,
    otpTtlSeconds: e.OTP_TTL_SECONDS,
    otpMaxAttempts: e.OTP_MAX_ATTEMPTS,
    resendCooldownSeconds: e.OTP_RESEND_COOLDOWN_SECONDS,
    allowedCountries,
    smsMaxAttempts: e.SMS_MAX_ATTEMPTS,
    smsRetryBaseDelayMs: e.SMS_RETRY_BASE_DELAY_MS,
    debugMode,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    apiKeys,
    webhooks: createWebhookHandlers(e),
    ...(e.PUBLIC_BASE_URL ? { publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, '') } : {}),
    limits: {
      perPhonePerHour: e.OTP_SENDS_PER_PHONE_PER_HOUR,
      perPhonePerDay: e.OTP_SENDS_PER_PHONE_PER_DAY,
      perIpPerHour: e.OTP_SENDS_PER_IP_PER_HOUR,
      countryDaily,
      dailyBudget: e.SMS_DAILY_BUDGET,
    },
    failedVerifiesPerHour: e.OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    blockedPrefixes,
    testNumbers,
    admin,
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE,
  };
}

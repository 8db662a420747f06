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
import Type, { type Static } from 'typebox';
import { type ApiKeyEntry, parseApiKeys } from './auth/api-keys.js';

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
  /** No Messaggio key: answers carry `debug_code` and workers log codes instead of sending. */
  debugMode: boolean;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  /** Client API keys; empty = open API. */
  apiKeys: ApiKeyEntry[];
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
  const secret = collectProblems(problems, () => resolveOtpSecret(e.NODE_ENV, e.OTP_SECRET));
  const debugMode = collectProblems(problems, () => resolveDebugMode(e.NODE_ENV, e.MESSAGGIO_API_KEY));
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
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE,
  };
}

import {
  ConfigError,
  checkTemplate,
  collectProblems,
  type Env,
  type EventJobOptionsInput,
  EventsEnv,
  parseEnv,
  type RedisTarget,
  resolveDebugMode,
  resolveOtpSecret,
  resolvePreviousSecret,
  resolveRedisTarget,
  SharedEnv,
  SMS_LOCALES,
  type SmsLocale,
  type SmsTemplates,
  splitList,
  webhookSecretProblem,
} from '@otp/core';
import { twilioStatusCallbackUrl } from '@otp/twilio';
import Type, { type Static } from 'typebox';
import { CHAIN_PROVIDER_NAMES } from './providers/registry.js';

export const WorkerEnv = Type.Object({
  ...SharedEnv,
  ...EventsEnv,
  // Standard Webhooks signing secret (whsec_…); required with EVENTS_WEBHOOK_URL, never logged.
  EVENTS_WEBHOOK_SECRET: Type.Optional(Type.String({ maxLength: 200 })),
  EVENTS_WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 120_000 }),
  EVENTS_CONCURRENCY: Type.Integer({ default: 5, minimum: 1, maximum: 100 }),
  WORKER_CONCURRENCY: Type.Integer({ default: 50, minimum: 1, maximum: 1000 }),
  MESSAGGIO_BASE_URL: Type.String({ default: 'https://msg.messaggio.com/api/v1', pattern: '^https?://' }),
  MESSAGGIO_SENDER: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  MESSAGGIO_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 120_000 }),
  SMS_TEMPLATE: Type.String({ default: 'Ваш код подтверждения: {code}' }),
  // Per-locale templates (a send's `locale`, else the phone's country: KZ -> kk, RU -> ru),
  // one variable each or all in SMS_TEMPLATES (JSON: {"ru": "…", "kk": "…", "en": "…"}).
  SMS_TEMPLATE_RU: Type.Optional(Type.String({ minLength: 1 })),
  SMS_TEMPLATE_KK: Type.Optional(Type.String({ minLength: 1 })),
  SMS_TEMPLATE_EN: Type.Optional(Type.String({ minLength: 1 })),
  SMS_TEMPLATES: Type.Optional(Type.String({ minLength: 2 })),
  // Origin-bound codes (WebOTP, iOS/Android autofill): the SMS ends with `@<domain> #<code>`.
  OTP_ORIGIN: Type.Optional(
    Type.String({
      maxLength: 253,
      pattern: '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$',
    }),
  ),
  // Explicit opt-in, refused in production: write the code to the log when the chain fails for good.
  OTP_DEBUG_FALLBACK: Type.Boolean({ default: false }),
  // The provider chain, in order: a job tries the first whose breaker is closed.
  SMS_PROVIDERS: Type.String({ default: 'messaggio', pattern: '^[a-z0-9_, -]+$' }),
  SMS_FAILOVER_AFTER: Type.Integer({ default: 2, minimum: 1, maximum: 50 }),
  SMS_BREAKER_FAILURES: Type.Integer({ default: 5, minimum: 1, maximum: 1000 }),
  SMS_BREAKER_COOLDOWN_MS: Type.Integer({ default: 30_000, minimum: 100, maximum: 600_000 }),
  SMS_RATE_LIMIT_PER_SECOND: Type.Integer({ default: 0, minimum: 0, maximum: 100_000 }),
  SMS_RETRY_MAX_DELAY_MS: Type.Integer({ default: 60_000, minimum: 100, maximum: 3_600_000 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 0, maximum: 600_000 }),
  // How fast a killed worker's jobs come back (see README, Faults): a job is another
  // worker's once its lock has expired and a stalled check has seen it twice.
  WORKER_LOCK_DURATION_MS: Type.Integer({ default: 5000, minimum: 1000, maximum: 600_000 }),
  WORKER_STALLED_INTERVAL_MS: Type.Integer({ default: 2500, minimum: 500, maximum: 600_000 }),
  WORKER_MAX_STALLED_COUNT: Type.Integer({ default: 2, minimum: 0, maximum: 100 }),
  // With both set, each SMS asks Messaggio to POST its delivery reports to our API.
  PUBLIC_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 512 })),
  MESSAGGIO_WEBHOOK_SECRET: Type.Optional(
    Type.String({ minLength: 32, maxLength: 256, pattern: '^[A-Za-z0-9_~.-]+$' }),
  ),
  // Twilio, for SMS_PROVIDERS=…,twilio: the Account SID and Auth Token, and From or a Messaging Service.
  TWILIO_ACCOUNT_SID: Type.Optional(Type.String({ pattern: '^AC[0-9a-fA-F]{32}$' })),
  TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
  TWILIO_FROM: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  TWILIO_MESSAGING_SERVICE_SID: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
  TWILIO_BASE_URL: Type.String({ default: 'https://api.twilio.com', pattern: '^https?://[^\\s]+$' }),
  // Where Twilio posts status callbacks; unset = `${PUBLIC_BASE_URL}/webhooks/twilio`, or none.
  TWILIO_STATUS_CALLBACK_URL: Type.Optional(
    Type.String({ pattern: '^https?://[^\\s_/]+(/[^\\s]*)?$', maxLength: 3900 }),
  ),
  TWILIO_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 120_000 }),
  // The worker's /metrics, /health/live and /health/ready; 0 turns the port off.
  METRICS_PORT: Type.Integer({ default: 9464, minimum: 0, maximum: 65_535 }),
  METRICS_HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
});
export type WorkerEnv = Static<typeof WorkerEnv>;

export interface WorkerConfig {
  nodeEnv: WorkerEnv['NODE_ENV'];
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster instead of REDIS_URL. @defaultValue one Redis */
  redisCluster?: RedisTarget['cluster'];
  redisKeyPrefix: string;
  queueName: string;
  queuePrefix: string;
  /** QUEUE_SHARDS: send queues, picked by phone. @defaultValue 1 */
  queueShards?: number;
  otpSecret: string;
  /** OTP_SECRET_PREVIOUS: still opens codes and jobs made before a rotation. */
  otpSecretPrevious?: string;
  insecureSecret: boolean;
  otpLength: number;
  otpMaxAttempts: number;
  concurrency: number;
  /** Set when a Messaggio key is configured; absent in debug mode. */
  messaggio?: {
    baseUrl: string;
    login: string;
    sender: string;
    timeoutMs: number;
    /** `${PUBLIC_BASE_URL}/webhooks/messaggio/${MESSAGGIO_WEBHOOK_SECRET}` when both are set. */
    dlrCallbackUrl?: string;
    /** MESSAGGIO_WEBHOOK_SECRET, redacted from provider errors like the login. */
    webhookSecret?: string;
  };
  /** Set when Twilio's credentials and a sender are configured. */
  twilio?: {
    accountSid: string;
    authToken: string;
    from?: string;
    messagingServiceSid?: string;
    baseUrl: string;
    timeoutMs: number;
    /** TWILIO_STATUS_CALLBACK_URL, or `${PUBLIC_BASE_URL}/webhooks/twilio`; none without either. */
    statusCallbackUrl?: string;
  };
  /** OTP_DEBUG: the chain is `['debug']`, every code goes to the log instead of an SMS. */
  debugMode: boolean;
  /** The chain's provider names in order (SMS_PROVIDERS), `['debug']` in debug mode. */
  providers: string[];
  /** Failed tries on one provider before a job moves to the next (SMS_FAILOVER_AFTER). */
  failoverAfter: number;
  /** Per-provider circuit breaker, shared by every worker through Redis. */
  breaker: { failureThreshold: number; cooldownMs: number };
  /** When Messaggio fails for good, also write the code to the log. */
  debugFallback: boolean;
  /** SMS_TEMPLATE: the default text. */
  smsTemplate: string;
  /** The default template and any per locale (SMS_TEMPLATE_RU/_KK/_EN or SMS_TEMPLATES). */
  smsTemplates: SmsTemplates;
  /** OTP_ORIGIN: the domain of the origin-bound line `@<domain> #<code>`; undefined = none. */
  otpOrigin?: string;
  rateLimitPerSecond: number;
  retryMaxDelayMs: number;
  shutdownTimeoutMs: number;
  /** BullMQ's stall detection: how soon a dead worker's jobs go to another one. */
  stalled: { lockDurationMs: number; stalledIntervalMs: number; maxStalledCount: number };
  /** Port for /metrics and /health/*; 0 = off. */
  metricsPort: number;
  metricsHost: string;
  /** Set with EVENTS_WEBHOOK_URL: status changes are POSTed there, signed (Standard Webhooks). */
  events?: {
    url: string;
    /** `whsec_<base64>`; never logged. */
    secret: string;
    /** Per delivery attempt, the answer's body included. */
    timeoutMs: number;
    /** Deliveries in flight at once, beside the SMS jobs. */
    concurrency: number;
    jobOptions: Required<EventJobOptionsInput>;
  };
  logLevel: string;
  logFile?: string;
}

/** Where a locale's template was read from, for start-up messages. */
function templateVariable(e: WorkerEnv, locale: string): string {
  return e.SMS_TEMPLATES === undefined ? `SMS_TEMPLATE_${locale.toUpperCase()}` : `SMS_TEMPLATES.${locale}`;
}

/** SMS_TEMPLATE_RU/_KK/_EN, or SMS_TEMPLATES (JSON), not both. */
function localeTemplates(e: WorkerEnv, problems: string[]): Partial<Record<SmsLocale, string>> {
  const single: Partial<Record<SmsLocale, string>> = {
    ...(e.SMS_TEMPLATE_RU === undefined ? {} : { ru: e.SMS_TEMPLATE_RU }),
    ...(e.SMS_TEMPLATE_KK === undefined ? {} : { kk: e.SMS_TEMPLATE_KK }),
    ...(e.SMS_TEMPLATE_EN === undefined ? {} : { en: e.SMS_TEMPLATE_EN }),
  };
  if (e.SMS_TEMPLATES === undefined) return single;
  if (Object.keys(single).length > 0) {
    problems.push('SMS_TEMPLATES: set it or SMS_TEMPLATE_RU/_KK/_EN, not both');
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.SMS_TEMPLATES);
  } catch {
    problems.push('SMS_TEMPLATES: must be a JSON object, e.g. {"kk": "Сіздің кодыңыз: {code}"}');
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push('SMS_TEMPLATES: must be a JSON object of locale to template');
    return {};
  }
  const templates: Partial<Record<SmsLocale, string>> = {};
  for (const [locale, template] of Object.entries(parsed)) {
    if (!(SMS_LOCALES as readonly string[]).includes(locale)) {
      problems.push(`SMS_TEMPLATES: unknown locale "${locale}"; use ${SMS_LOCALES.join(', ')}`);
    } else if (typeof template !== 'string' || template === '') {
      problems.push(`SMS_TEMPLATES.${locale}: must be a non-empty string`);
    } else {
      templates[locale as SmsLocale] = template;
    }
  }
  return templates;
}

/** The variables each provider still needs: a chain may only name configured ones. */
const PROVIDER_MISSING: Record<string, (e: WorkerEnv) => string[]> = {
  messaggio: (e) => (e.MESSAGGIO_API_KEY ? [] : ['MESSAGGIO_API_KEY and MESSAGGIO_SENDER']),
  twilio: (e) =>
    [
      e.TWILIO_ACCOUNT_SID ? undefined : 'TWILIO_ACCOUNT_SID',
      e.TWILIO_AUTH_TOKEN ? undefined : 'TWILIO_AUTH_TOKEN',
      e.TWILIO_FROM || e.TWILIO_MESSAGING_SERVICE_SID
        ? undefined
        : 'TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID',
    ].filter((name) => name !== undefined),
};

/** Reads and checks every variable the worker uses; throws a ConfigError naming each bad one. */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const problems: string[] = [];
  const e = parseEnv(WorkerEnv, env, problems);
  const chain = splitList(e.SMS_PROVIDERS).map((name) => name.toLowerCase());
  const unknown = chain.filter((name) => !CHAIN_PROVIDER_NAMES.includes(name));
  if (chain.length === 0) problems.push('SMS_PROVIDERS: must name at least one provider (e.g. messaggio)');
  if (unknown.length > 0) {
    problems.push(
      `SMS_PROVIDERS: unknown provider(s) ${unknown.join(', ')} (known: ${CHAIN_PROVIDER_NAMES.join(', ')})`,
    );
  }
  if (new Set(chain).size !== chain.length) problems.push('SMS_PROVIDERS: names a provider twice');
  const missing = (name: string) => PROVIDER_MISSING[name]?.(e) ?? [];
  const unconfigured = chain.filter((name) => missing(name).length > 0);
  // Any provider's credentials say "this deployment sends real SMS": debug mode is then refused.
  const configured = Object.keys(PROVIDER_MISSING).filter((name) => missing(name).length === 0);
  const providerConfigured = configured.length > 0;
  // What the debug-mode messages name: the credentials that are set, else what to set.
  const providerHint =
    configured.length > 0
      ? configured.map((name) => `${name}'s credentials`).join(', ')
      : missing(chain[0] ?? 'messaggio').join(', ');
  const secret = collectProblems(problems, () =>
    resolveOtpSecret(e.NODE_ENV, e.OTP_SECRET, providerConfigured),
  );
  const debugMode = collectProblems(problems, () =>
    resolveDebugMode(e.NODE_ENV, e.OTP_DEBUG, providerConfigured, providerHint),
  );
  if (debugMode === false) {
    for (const name of unconfigured) {
      problems.push(
        `SMS_PROVIDERS: names ${name}, whose credentials are not set (${missing(name).join(', ')})`,
      );
    }
  }
  const previousSecret = collectProblems(problems, () =>
    resolvePreviousSecret(e.NODE_ENV, e.OTP_SECRET_PREVIOUS, e.OTP_SECRET),
  );
  if (e.OTP_DEBUG_FALLBACK && e.NODE_ENV === 'production') {
    problems.push('OTP_DEBUG_FALLBACK: must be off when NODE_ENV=production (it writes codes to the log)');
  }
  if (e.MESSAGGIO_API_KEY && !e.MESSAGGIO_SENDER) {
    problems.push(
      'MESSAGGIO_SENDER: is required with MESSAGGIO_API_KEY (the "Sender Code for API" from the dashboard)',
    );
  }
  const eventsSecretProblem =
    e.EVENTS_WEBHOOK_URL === undefined ? undefined : webhookSecretProblem(e.EVENTS_WEBHOOK_SECRET);
  if (eventsSecretProblem) problems.push(eventsSecretProblem);
  const byLocale = localeTemplates(e, problems);
  for (const [name, template] of [
    ['SMS_TEMPLATE', e.SMS_TEMPLATE] as const,
    ...Object.entries(byLocale).map(([locale, template]) => [templateVariable(e, locale), template] as const),
  ]) {
    const templateProblem = checkTemplate(template, e.OTP_LENGTH, {
      name,
      ...(e.OTP_ORIGIN === undefined ? {} : { origin: e.OTP_ORIGIN }),
    });
    if (templateProblem) problems.push(templateProblem);
  }
  const redisTarget = collectProblems(problems, () => resolveRedisTarget(env, e));
  if (problems.length > 0 || !secret || debugMode === undefined) throw new ConfigError(problems);
  const twilioCallback =
    e.TWILIO_STATUS_CALLBACK_URL ??
    (e.PUBLIC_BASE_URL === undefined ? undefined : twilioStatusCallbackUrl(e.PUBLIC_BASE_URL));
  return {
    nodeEnv: e.NODE_ENV,
    redisUrl: e.REDIS_URL,
    ...(redisTarget?.cluster ? { redisCluster: redisTarget.cluster } : {}),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    queueName: e.QUEUE_NAME,
    queuePrefix: e.QUEUE_PREFIX,
    queueShards: e.QUEUE_SHARDS,
    otpSecret: secret.secret,
    ...(previousSecret === undefined ? {} : { otpSecretPrevious: previousSecret }),
    insecureSecret: secret.insecureDefault,
    otpLength: e.OTP_LENGTH,
    otpMaxAttempts: e.OTP_MAX_ATTEMPTS,
    concurrency: e.WORKER_CONCURRENCY,
    messaggio:
      e.MESSAGGIO_API_KEY && e.MESSAGGIO_SENDER
        ? {
            baseUrl: e.MESSAGGIO_BASE_URL,
            login: e.MESSAGGIO_API_KEY,
            sender: e.MESSAGGIO_SENDER,
            timeoutMs: e.MESSAGGIO_TIMEOUT_MS,
            ...(e.PUBLIC_BASE_URL && e.MESSAGGIO_WEBHOOK_SECRET
              ? {
                  dlrCallbackUrl: `${e.PUBLIC_BASE_URL.replace(/\/+$/, '')}/webhooks/messaggio/${e.MESSAGGIO_WEBHOOK_SECRET}`,
                }
              : {}),
            ...(e.MESSAGGIO_WEBHOOK_SECRET ? { webhookSecret: e.MESSAGGIO_WEBHOOK_SECRET } : {}),
          }
        : undefined,
    twilio:
      e.TWILIO_ACCOUNT_SID && e.TWILIO_AUTH_TOKEN && (e.TWILIO_FROM || e.TWILIO_MESSAGING_SERVICE_SID)
        ? {
            accountSid: e.TWILIO_ACCOUNT_SID,
            authToken: e.TWILIO_AUTH_TOKEN,
            ...(e.TWILIO_FROM ? { from: e.TWILIO_FROM } : {}),
            ...(e.TWILIO_MESSAGING_SERVICE_SID
              ? { messagingServiceSid: e.TWILIO_MESSAGING_SERVICE_SID }
              : {}),
            baseUrl: e.TWILIO_BASE_URL,
            timeoutMs: e.TWILIO_TIMEOUT_MS,
            ...(twilioCallback === undefined ? {} : { statusCallbackUrl: twilioCallback }),
          }
        : undefined,
    debugMode,
    providers: debugMode ? ['debug'] : chain,
    failoverAfter: e.SMS_FAILOVER_AFTER,
    breaker: { failureThreshold: e.SMS_BREAKER_FAILURES, cooldownMs: e.SMS_BREAKER_COOLDOWN_MS },
    // Explicit opt-in, refused in production: a code in a log is a leak waiting to happen.
    debugFallback: e.OTP_DEBUG_FALLBACK,
    smsTemplate: e.SMS_TEMPLATE,
    smsTemplates: { default: e.SMS_TEMPLATE, byLocale },
    ...(e.OTP_ORIGIN === undefined ? {} : { otpOrigin: e.OTP_ORIGIN }),
    rateLimitPerSecond: e.SMS_RATE_LIMIT_PER_SECOND,
    retryMaxDelayMs: e.SMS_RETRY_MAX_DELAY_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    stalled: {
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: e.WORKER_MAX_STALLED_COUNT,
    },
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    ...(e.EVENTS_WEBHOOK_URL && e.EVENTS_WEBHOOK_SECRET
      ? {
          events: {
            url: e.EVENTS_WEBHOOK_URL,
            secret: e.EVENTS_WEBHOOK_SECRET,
            timeoutMs: e.EVENTS_WEBHOOK_TIMEOUT_MS,
            concurrency: e.EVENTS_CONCURRENCY,
            jobOptions: { maxAttempts: e.EVENTS_MAX_ATTEMPTS, backoffDelayMs: e.EVENTS_RETRY_BASE_DELAY_MS },
          },
        }
      : {}),
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE,
  };
}

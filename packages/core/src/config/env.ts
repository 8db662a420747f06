import Type, { type Static, type TObject, type TProperties } from 'typebox';
import Value from 'typebox/value';
import { ConfigError } from '../errors.js';
import { maskUrlPassword } from '../logging/redact.js';
import { parseClusterNodes, type RedisTarget } from '../redis/client.js';

export type Env = Record<string, string | undefined>;

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

function isBooleanSchema(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'boolean';
}

/**
 * Validates the variables `schema` names, once, at start-up. Empty strings count as unset
 * (so `FOO=` in .env means "use the default"); numbers and booleans are converted; every
 * problem is reported at once, each naming its variable.
 *
 * With `problems`, nothing is thrown: the problems are appended there and each bad variable
 * falls back to its default, so the caller's own checks (countries, credentials, …) still
 * run and one start-up names everything wrong instead of one round per layer.
 */
export function parseEnv<P extends TProperties>(
  schema: TObject<P>,
  env: Env,
  problems?: string[],
): Static<TObject<P>> {
  const input: Record<string, unknown> = {};
  const found: string[] = [];
  const bad = new Set<string>();
  for (const [name, property] of Object.entries(schema.properties)) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    if (isBooleanSchema(property)) {
      const lower = raw.toLowerCase();
      if (TRUE.has(lower)) input[name] = true;
      else if (FALSE.has(lower)) input[name] = false;
      else {
        found.push(`${name}: must be true or false (got "${raw}")`);
        bad.add(name);
      }
      continue;
    }
    input[name] = raw;
  }
  const convert = () => Value.Convert(schema, Value.Default(schema, structuredClone(input)));
  const value = convert();
  for (const error of Value.Errors(schema, value)) {
    const name = error.instancePath.replace(/^\//, '').split('/')[0];
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      for (const variable of missing) found.push(`${variable}: is required`);
      continue;
    }
    if (!name) continue;
    bad.add(name);
    const shown = isSecretName(name) ? '(hidden)' : JSON.stringify(maskUrlPassword(env[name] ?? ''));
    found.push(`${name}: ${error.message} (got ${shown})`);
  }
  if (found.length === 0) return value as Static<TObject<P>>;
  if (!problems) throw new ConfigError([...new Set(found)]);
  problems.push(...new Set(found));
  for (const name of bad) delete input[name];
  return convert() as Static<TObject<P>>;
}

/** Variables whose values never appear in an error message or a log. */
export function isSecretName(name: string): boolean {
  return /SECRET|PASSWORD|KEY|TOKEN|LOGIN/.test(name);
}

/** A comma-separated list: trimmed, empty items dropped. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Schema fragments both processes read, so the API and the worker agree on them. */
export const SharedEnv = {
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' }),
  // A Redis Cluster instead of REDIS_URL: seed nodes, host:port or redis[s]://… each.
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_KEY_PREFIX: Type.String({ default: 'otp:', maxLength: 64 }),
  QUEUE_NAME: Type.String({ default: 'otp-sms', pattern: '^[A-Za-z0-9_-]+$' }),
  // Send queues, each its own hash slot on a cluster; 1 = the one queue QUEUE_NAME.
  QUEUE_SHARDS: Type.Integer({ default: 1, minimum: 1, maximum: 64 }),
  QUEUE_PREFIX: Type.String({ default: 'bull', pattern: '^[A-Za-z0-9_:-]+$' }),
  OTP_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  // The secret before a rotation: still opens codes and jobs made with it, makes nothing new.
  OTP_SECRET_PREVIOUS: Type.Optional(Type.String({ minLength: 32 })),
  OTP_LENGTH: Type.Integer({ default: 6, minimum: 4, maximum: 10 }),
  OTP_TTL_SECONDS: Type.Integer({ default: 600, minimum: 30, maximum: 86_400 }),
  OTP_MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1, maximum: 100 }),
  MESSAGGIO_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  // Explicit opt-in: codes in answers and logs, no SMS. Never implied by a missing key.
  OTP_DEBUG: Type.Boolean({ default: false }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  LOG_FILE: Type.Optional(Type.String({ minLength: 1 })),
};

/**
 * Where Redis is, from REDIS_URL or REDIS_CLUSTER_NODES. Both set is refused rather than one
 * silently ignored: a process on the wrong Redis would issue codes no worker ever sends.
 */
export function resolveRedisTarget(
  env: Env,
  parsed: { REDIS_URL: string; REDIS_CLUSTER_NODES?: string | undefined },
): RedisTarget {
  if (parsed.REDIS_CLUSTER_NODES === undefined) return { url: parsed.REDIS_URL };
  if ((env.REDIS_URL?.trim() ?? '') !== '') {
    throw new ConfigError([
      'REDIS_URL and REDIS_CLUSTER_NODES: set one, not both (REDIS_CLUSTER_NODES for a Redis Cluster, REDIS_URL for one server)',
    ]);
  }
  try {
    return { cluster: parseClusterNodes(parsed.REDIS_CLUSTER_NODES) };
  } catch (err) {
    throw new ConfigError([`REDIS_CLUSTER_NODES: ${(err as Error).message}`]);
  }
}

/**
 * The secret used when OTP_SECRET is unset in local development: the API and worker must
 * agree on it, so it is a constant, and start-up logs a warning while it is in use. It is
 * public, so it is refused wherever a code could reach a real phone.
 */
export const DEV_OTP_SECRET = 'insecure-development-secret-do-not-use-in-production';

export interface ResolvedSecret {
  secret: string;
  insecureDefault: boolean;
}

const SECRET_HINT = 'e.g. `openssl rand -hex 32`, the same on the API and every worker';

/**
 * Why a production secret is too weak, or undefined. A secret must carry 32 bytes: 64 hex
 * characters, or 43 of anything else (base64url of 32 bytes); one repeated character and
 * the built-in constant carry none.
 */
export function weakSecretProblem(name: string, secret: string): string | undefined {
  if (secret === DEV_OTP_SECRET) return `${name}: is the public built-in development secret (${SECRET_HINT})`;
  if (new Set(secret).size <= 1) return `${name}: is one character repeated (${SECRET_HINT})`;
  const hex = /^[0-9a-f]+$/i.test(secret);
  if (hex ? secret.length < 64 : secret.length < 43) {
    return `${name}: must carry at least 32 random bytes: 64 hex or 43 base64url characters (${SECRET_HINT})`;
  }
  return undefined;
}

/**
 * OTP_SECRET, or the development constant. The constant is only for local development:
 * refused with NODE_ENV=production or when a provider key is set (real SMS would then carry
 * codes anyone can forge); production also refuses a weak secret.
 */
export function resolveOtpSecret(
  nodeEnv: string,
  secret: string | undefined,
  providerConfigured = false,
): ResolvedSecret {
  const production = nodeEnv === 'production';
  if (secret === undefined || secret === DEV_OTP_SECRET) {
    if (production || providerConfigured) {
      const why = production ? 'NODE_ENV=production' : 'SMS provider credentials are set';
      throw new ConfigError([
        `OTP_SECRET: is required when ${why}; the built-in development secret is public (32+ random bytes, ${SECRET_HINT})`,
      ]);
    }
    return { secret: DEV_OTP_SECRET, insecureDefault: true };
  }
  if (production) {
    const problem = weakSecretProblem('OTP_SECRET', secret);
    if (problem) throw new ConfigError([problem]);
  }
  return { secret, insecureDefault: false };
}

/** OTP_SECRET_PREVIOUS: accepted while rotating; as strong as OTP_SECRET, and not the same. */
export function resolvePreviousSecret(
  nodeEnv: string,
  previous: string | undefined,
  current: string | undefined,
): string | undefined {
  if (previous === undefined) return undefined;
  if (previous === current) {
    throw new ConfigError([
      'OTP_SECRET_PREVIOUS: is the same as OTP_SECRET; unset it once a rotation is over',
    ]);
  }
  if (nodeEnv === 'production') {
    const problem = weakSecretProblem('OTP_SECRET_PREVIOUS', previous);
    if (problem) throw new ConfigError([problem]);
  }
  return previous;
}

/**
 * Debug mode (codes in logs and answers instead of SMS) is an explicit opt-in, OTP_DEBUG:
 * never implied by a missing provider key, never together with one, never in production.
 * `providerVariables` names what configures a provider (e.g. "MESSAGGIO_API_KEY and
 * MESSAGGIO_SENDER"), for the messages: core knows no provider.
 */
export function resolveDebugMode(
  nodeEnv: string,
  otpDebug: boolean,
  providerConfigured: boolean,
  providerVariables = 'MESSAGGIO_API_KEY',
): boolean {
  if (otpDebug) {
    const problems: string[] = [];
    if (nodeEnv === 'production') problems.push('OTP_DEBUG: must be off when NODE_ENV=production');
    if (providerConfigured) {
      problems.push(
        `OTP_DEBUG: must be off when an SMS provider is configured (${providerVariables}); unset one of the two`,
      );
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return true;
  }
  if (!providerConfigured) {
    throw new ConfigError([
      `OTP_DEBUG: no SMS provider is configured; set ${providerVariables} to send real SMS, or OTP_DEBUG=true for local development (codes in answers and logs, no SMS)`,
    ]);
  }
  return false;
}

/**
 * Runs one config check, collecting its ConfigError problems instead of stopping, so
 * start-up reports every bad variable at once.
 */
export function collectProblems<T>(problems: string[], check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

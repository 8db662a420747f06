import Type, { type Static, type TObject, type TProperties } from 'typebox';
import Value from 'typebox/value';
import { ConfigError } from '../errors.js';

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
    const shown = isSecretName(name) ? '(hidden)' : JSON.stringify(env[name]);
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
  REDIS_KEY_PREFIX: Type.String({ default: 'otp:', maxLength: 64 }),
  QUEUE_NAME: Type.String({ default: 'otp-sms', pattern: '^[A-Za-z0-9_-]+$' }),
  QUEUE_PREFIX: Type.String({ default: 'bull', pattern: '^[A-Za-z0-9_:-]+$' }),
  OTP_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  OTP_LENGTH: Type.Integer({ default: 6, minimum: 4, maximum: 10 }),
  OTP_TTL_SECONDS: Type.Integer({ default: 600, minimum: 30, maximum: 86_400 }),
  OTP_MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1, maximum: 100 }),
  MESSAGGIO_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  LOG_FILE: Type.Optional(Type.String({ minLength: 1 })),
};

/**
 * The secret used when OTP_SECRET is unset outside production: the API and worker must
 * agree on it, so it is a constant, and start-up logs a warning while it is in use.
 */
export const DEV_OTP_SECRET = 'insecure-development-secret-do-not-use-in-production';

export interface ResolvedSecret {
  secret: string;
  insecureDefault: boolean;
}

/** OTP_SECRET, or the development constant; production without it is a ConfigError. */
export function resolveOtpSecret(nodeEnv: string, secret: string | undefined): ResolvedSecret {
  if (secret) return { secret, insecureDefault: false };
  if (nodeEnv === 'production') {
    throw new ConfigError([
      'OTP_SECRET: is required when NODE_ENV=production (32+ random characters, the same on the API and every worker; e.g. `openssl rand -hex 32`)',
    ]);
  }
  return { secret: DEV_OTP_SECRET, insecureDefault: true };
}

/**
 * Debug mode (codes in logs and answers instead of SMS) is on exactly when no Messaggio
 * key is set; production refuses to run that way.
 */
export function resolveDebugMode(nodeEnv: string, apiKey: string | undefined): boolean {
  if (apiKey) return false;
  if (nodeEnv === 'production') {
    throw new ConfigError([
      'MESSAGGIO_API_KEY: is required when NODE_ENV=production (without it codes would only be written to the log)',
    ]);
  }
  return true;
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

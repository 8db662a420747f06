import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@otp/core';
import { EMPTY_KEY_SHA256, presentedKey } from './api-keys.js';

/**
 * Who may open the admin routes (Bull Board, /metrics). Only digests are kept, so every
 * comparison is between two 32-byte values: constant time, whatever was presented.
 */
export interface AdminCredentials {
  /** ADMIN_USER and ADMIN_PASSWORD, for HTTP Basic (what a browser asks for). */
  basic?: { userSha256: Buffer; passwordSha256: Buffer };
  /** ADMIN_API_KEY: the SHA-256 of a key presented as Bearer or X-API-Key (scrapers, scripts). */
  keySha256?: Buffer;
}

const HEX64 = /^[0-9a-f]{64}$/i;
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Reads ADMIN_USER / ADMIN_PASSWORD / ADMIN_API_KEY. None set: undefined, and the admin
 * routes do not exist. Throws a ConfigError naming each bad variable.
 */
export function parseAdminCredentials(vars: {
  user?: string;
  password?: string;
  apiKeySha256?: string;
}): AdminCredentials | undefined {
  const problems: string[] = [];
  const { user, password, apiKeySha256 } = vars;
  if (user !== undefined && password === undefined)
    problems.push('ADMIN_PASSWORD: is required with ADMIN_USER');
  if (password !== undefined && user === undefined)
    problems.push('ADMIN_USER: is required with ADMIN_PASSWORD');
  if (user?.includes(':')) problems.push('ADMIN_USER: must not contain ":" (HTTP Basic cannot carry it)');
  if (apiKeySha256 !== undefined && !HEX64.test(apiKeySha256)) {
    // Never echoed back, in case the key itself was pasted instead of its hash.
    problems.push(
      'ADMIN_API_KEY: must be the SHA-256 of the key in hex (64 characters): printf %s "$key" | sha256sum',
    );
  } else if (apiKeySha256?.toLowerCase() === EMPTY_KEY_SHA256) {
    problems.push('ADMIN_API_KEY: is the hash of an empty key; hash a real key');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const credentials: AdminCredentials = {};
  if (user !== undefined && password !== undefined) {
    credentials.basic = { userSha256: sha256(user), passwordSha256: sha256(password) };
  }
  if (apiKeySha256 !== undefined) credentials.keySha256 = Buffer.from(apiKeySha256, 'hex');
  return credentials.basic || credentials.keySha256 ? credentials : undefined;
}

/** `Authorization: Basic base64(user:password)`, decoded; undefined when absent or malformed. */
export function presentedBasic(
  headers: Record<string, string | string[] | undefined>,
): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(
    typeof headers.authorization === 'string' ? headers.authorization : '',
  );
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Whether the request carries valid admin credentials: Basic user and password, or the
 * admin key as Bearer / X-API-Key. Both halves of a Basic pair are always compared, so the
 * timing does not say whether the user name was right.
 */
export function isAdmin(
  credentials: AdminCredentials,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  const basic = presentedBasic(headers);
  if (basic && credentials.basic) {
    const userOk = timingSafeEqual(sha256(basic.user), credentials.basic.userSha256);
    const passwordOk = timingSafeEqual(sha256(basic.password), credentials.basic.passwordSha256);
    return userOk && passwordOk;
  }
  const key = presentedKey(headers);
  if (key !== undefined && credentials.keySha256) {
    return timingSafeEqual(sha256(key), credentials.keySha256);
  }
  return false;
}

/** The `WWW-Authenticate` challenges for what is configured; Basic first so browsers prompt. */
export function adminChallenge(credentials: AdminCredentials): string {
  const challenges: string[] = [];
  if (credentials.basic) challenges.push('Basic realm="otp-admin", charset="UTF-8"');
  if (credentials.keySha256) challenges.push('Bearer realm="otp-admin"');
  return challenges.join(', ');
}

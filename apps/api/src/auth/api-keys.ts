import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError, splitList } from '@otp/core';

export interface ApiKeyEntry {
  /** Shown in logs and metrics instead of the key. */
  name: string;
  /** SHA-256 of the key: a leaked config does not leak the key. */
  sha256: Buffer;
  /** Requests per minute for this key; undefined = no quota. */
  perMinute?: number;
  /** A trusted backend: the fraud guard counts its sends but never blocks them. @defaultValue false */
  trusted?: boolean;
  /** The `app_hash` values this key may send (API_KEY_APP_HASHES); undefined = any. */
  appHashes?: string[];
}

const APP_HASH = /^[A-Za-z0-9+/]{11}$/;

/**
 * Applies API_KEY_APP_HASHES (`name:hash`, comma-separated, a name once per hash) to the
 * keys: a listed key may send only its hashes, so one client cannot have codes sent with
 * another's app hash (its app would read them).
 */
export function applyAppHashes(entries: ApiKeyEntry[], value: string): ApiKeyEntry[] {
  const problems: string[] = [];
  const byName = new Map<string, string[]>();
  for (const item of splitList(value)) {
    const colon = item.indexOf(':');
    const name = item.slice(0, colon);
    const hash = item.slice(colon + 1);
    if (colon <= 0 || !entries.some((entry) => entry.name === name)) {
      problems.push(
        `API_KEY_APP_HASHES: "${name || item}" is not a key name in API_KEYS (expected name:hash)`,
      );
    } else if (!APP_HASH.test(hash)) {
      problems.push(`API_KEY_APP_HASHES entry "${name}": the hash must be 11 of A-Z, a-z, 0-9, + and /`);
    } else {
      byName.set(name, [...(byName.get(name) ?? []), hash]);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return entries.map((entry) => {
    const appHashes = byName.get(entry.name);
    return appHashes === undefined ? entry : { ...entry, appHashes };
  });
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HEX64 = /^[0-9a-f]{64}$/i;
/** sha256(""): an entry with this hash would be matched by an empty (or blank) key. */
export const EMPTY_KEY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Trims ASCII spaces and tabs only: a non-breaking space is part of a key, not padding. */
export function trimKey(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * Parses API_KEYS: `name:sha256hex[:per-minute quota][:trusted]`, comma-separated (an
 * empty quota is none: `name:sha256::trusted`). Make an entry
 * with `key=$(openssl rand -hex 24); printf %s "$key" | sha256sum`.
 */
export function parseApiKeys(value: string): ApiKeyEntry[] {
  const problems: string[] = [];
  const entries: ApiKeyEntry[] = [];
  const names = new Set<string>();
  for (const item of splitList(value)) {
    const [name = '', hash = '', quota, flag, ...rest] = item.split(':');
    // The hash is never echoed back, in case someone pasted the key itself.
    const where = `API_KEYS entry "${name}"`;
    if (!NAME.test(name)) problems.push(`API_KEYS: entry name "${name}" must be 1-64 letters, digits, _ . -`);
    else if (names.has(name)) problems.push(`${where}: the name is used twice`);
    if (!HEX64.test(hash))
      problems.push(`${where}: the second part must be a SHA-256 in hex (64 characters)`);
    else if (hash.toLowerCase() === EMPTY_KEY_SHA256)
      problems.push(`${where}: the hash is that of an empty key; hash a real key`);
    const perMinute = quota === undefined || quota === '' ? undefined : Number(quota);
    if (perMinute !== undefined && (!Number.isInteger(perMinute) || perMinute < 1)) {
      problems.push(`${where}: the quota must be a whole number of requests per minute`);
    }
    if (rest.length > 0 || (flag !== undefined && flag !== 'trusted')) {
      problems.push(`${where}: expected name:sha256[:quota][:trusted]`);
    }
    names.add(name);
    entries.push({
      name,
      sha256: Buffer.from(hash, 'hex'),
      perMinute,
      ...(flag === 'trusted' ? { trusted: true } : {}),
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return entries;
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match?.[1]) return match[1];
  }
  const header = headers['x-api-key'];
  if (typeof header !== 'string') return undefined;
  // A key that is empty once trimmed is no key: it must never reach the comparison.
  const key = trimKey(header);
  return key.length > 0 ? key : undefined;
}

/**
 * Finds the entry whose hash matches the key. Every entry is compared, in constant time,
 * so the answer's timing says nothing about which key (or how much of one) matched.
 */
export function matchApiKey(entries: readonly ApiKeyEntry[], key: string): ApiKeyEntry | undefined {
  if (key.length === 0) return undefined;
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let found: ApiKeyEntry | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.sha256, digest) && !found) found = entry;
  }
  return found;
}

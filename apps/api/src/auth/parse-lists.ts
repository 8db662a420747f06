import { ConfigError, splitList } from '@otp/core';

/** SMS_COUNTRY_DAILY_LIMITS: `KZ:2000,RU:5000` (a `/day` suffix is accepted). */
export function parseCountryLimits(value: string): Record<string, number> {
  const limits: Record<string, number> = {};
  const problems: string[] = [];
  for (const item of splitList(value)) {
    const match = /^([A-Za-z]{2}):(\d+)(?:\/day)?$/.exec(item);
    if (!match?.[1] || match[2] === undefined) {
      problems.push(`SMS_COUNTRY_DAILY_LIMITS: "${item}" is not COUNTRY:COUNT (e.g. KZ:2000)`);
      continue;
    }
    limits[match[1].toUpperCase()] = Number(match[2]);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return limits;
}

/** BLOCKED_PREFIXES: E.164 prefixes such as `+7700,+79001`. */
export function parseBlockedPrefixes(value: string): string[] {
  const items = splitList(value);
  const bad = items.filter((item) => !/^\+\d{1,14}$/.test(item));
  if (bad.length > 0) {
    throw new ConfigError(bad.map((item) => `BLOCKED_PREFIXES: "${item}" is not a + followed by digits`));
  }
  return items;
}

/** TEST_PHONE_NUMBERS: `+77000000001:123456,…`, fixed codes for reviewers and QA. */
export function parseTestNumbers(value: string, codeLength: number): Map<string, string> {
  const numbers = new Map<string, string>();
  const problems: string[] = [];
  for (const item of splitList(value)) {
    const [phone = '', code = '', ...rest] = item.split(':');
    if (!/^\+[1-9]\d{7,14}$/.test(phone) || rest.length > 0) {
      problems.push(`TEST_PHONE_NUMBERS: "${phone}" is not an E.164 number (+7…) followed by :code`);
    } else if (!new RegExp(`^\\d{${codeLength}}$`).test(code)) {
      problems.push(`TEST_PHONE_NUMBERS: the code for ${phone} must be ${codeLength} digits (OTP_LENGTH)`);
    } else {
      numbers.set(phone, code);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return numbers;
}

/**
 * TRUST_PROXY, as Fastify's `trustProxy`: `false` (X-Forwarded-For ignored), `true` (any
 * proxy: only behind one that overwrites the header), a hop count, or proxy addresses/CIDRs.
 */
export function parseTrustProxy(value: string): boolean | number | string[] {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false' || v === '0' || v === 'no') return false;
  if (v === 'true' || v === 'yes') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return splitList(value);
}

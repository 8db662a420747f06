import { failedVerifiesKey, type SendLimit } from '@otp/core';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Limit names the API maps to error codes. */
export type SendLimitName =
  | 'verify_lock'
  | 'phone_hour'
  | 'phone_day'
  | 'ip_hour'
  | 'country_day'
  | 'daily_budget'
  | 'fraud_block';

export interface SendLimitSettings {
  keyPrefix: string;
  /** 0 turns a limit off. */
  perPhonePerHour: number;
  perPhonePerDay: number;
  perIpPerHour: number;
  /** Per-country SMS per UTC day, e.g. { KZ: 2000 }; countries not listed are unlimited. */
  countryDaily: Readonly<Record<string, number>>;
  /** SMS per UTC day across everything; 0 = off. */
  dailyBudget: number;
  /**
   * Failed verifies per phone per hour across clients (the code store counts them): a
   * number at it is locked, and gets no SMS it could not use. 0 = off. @defaultValue 0
   */
  verifyCeiling?: number;
}

export interface SendContext {
  phone: string;
  country: string;
  /** The caller's IP, or undefined for callers with an API key (they have their own quota). */
  ip: string | undefined;
  /** Test numbers send no SMS, so they cost nothing against country limits or the budget. */
  isTestNumber: boolean;
  now: number;
}

function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

function msUntilUtcMidnight(now: number): number {
  return DAY_MS - (now % DAY_MS);
}

/**
 * The limits one send is checked against, in the order they are reported. Per-phone and
 * per-IP limits are exact sliding windows; country limits and the budget are per UTC day,
 * the way an SMS bill is counted.
 */
export function buildSendLimits(settings: SendLimitSettings, ctx: SendContext): SendLimit<SendLimitName>[] {
  const p = settings.keyPrefix;
  const limits: SendLimit<SendLimitName>[] = [];
  if ((settings.verifyCeiling ?? 0) > 0) {
    limits.push({
      name: 'verify_lock',
      key: failedVerifiesKey(p, ctx.phone),
      max: settings.verifyCeiling ?? 0,
      windowMs: HOUR_MS,
      kind: 'check',
    });
  }
  if (settings.perPhonePerHour > 0) {
    limits.push({
      name: 'phone_hour',
      key: `${p}limit:phone-hour:{${ctx.phone}}`,
      max: settings.perPhonePerHour,
      windowMs: HOUR_MS,
      kind: 'sliding',
    });
  }
  if (settings.perPhonePerDay > 0) {
    limits.push({
      name: 'phone_day',
      key: `${p}limit:phone-day:{${ctx.phone}}`,
      max: settings.perPhonePerDay,
      windowMs: DAY_MS,
      kind: 'sliding',
    });
  }
  if (settings.perIpPerHour > 0 && ctx.ip !== undefined) {
    limits.push({
      name: 'ip_hour',
      key: `${p}limit:ip-hour:${ctx.ip}`,
      max: settings.perIpPerHour,
      windowMs: HOUR_MS,
      kind: 'sliding',
    });
  }
  if (ctx.isTestNumber) return limits;
  const day = utcDay(ctx.now);
  const untilMidnight = msUntilUtcMidnight(ctx.now);
  const countryMax = settings.countryDaily[ctx.country] ?? 0;
  if (countryMax > 0) {
    limits.push({
      name: 'country_day',
      key: `${p}limit:country:${ctx.country}:${day}`,
      max: countryMax,
      windowMs: untilMidnight,
      kind: 'fixed',
    });
  }
  if (settings.dailyBudget > 0) {
    limits.push({
      name: 'daily_budget',
      key: `${p}limit:budget:${day}`,
      max: settings.dailyBudget,
      windowMs: untilMidnight,
      kind: 'fixed',
    });
  }
  return limits;
}

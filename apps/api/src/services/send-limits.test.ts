import { describe, expect, it } from 'vitest';
import { buildSendLimits, type SendLimitSettings } from './send-limits.js';

const settings: SendLimitSettings = {
  keyPrefix: 'otp:',
  perPhonePerHour: 5,
  perPhonePerDay: 10,
  perIpPerHour: 20,
  countryDaily: { KZ: 2000 },
  dailyBudget: 10_000,
};
// 2026-11-23T18:00:00Z: six hours before UTC midnight.
const now = Date.UTC(2026, 10, 23, 18);
const ctx = { phone: '+77088043414', country: 'KZ', ip: '203.0.113.7', isTestNumber: false, now };

describe('buildSendLimits', () => {
  it('builds every limit, in reporting order, with its window', () => {
    expect(buildSendLimits(settings, ctx)).toEqual([
      {
        name: 'phone_hour',
        key: 'otp:limit:phone-hour:{+77088043414}',
        max: 5,
        windowMs: 3_600_000,
        kind: 'sliding',
      },
      {
        name: 'phone_day',
        key: 'otp:limit:phone-day:{+77088043414}',
        max: 10,
        windowMs: 86_400_000,
        kind: 'sliding',
      },
      {
        name: 'ip_hour',
        key: 'otp:limit:ip-hour:203.0.113.7',
        max: 20,
        windowMs: 3_600_000,
        kind: 'sliding',
      },
      {
        name: 'country_day',
        key: 'otp:limit:country:KZ:2026-11-23',
        max: 2000,
        windowMs: 6 * 3_600_000,
        kind: 'fixed',
      },
      {
        name: 'daily_budget',
        key: 'otp:limit:budget:2026-11-23',
        max: 10_000,
        windowMs: 6 * 3_600_000,
        kind: 'fixed',
      },
    ]);
  });

  it('leaves out limits set to 0, countries without a limit, and the IP of key holders', () => {
    const names = buildSendLimits(
      { ...settings, perPhonePerDay: 0, dailyBudget: 0 },
      { ...ctx, country: 'RU', ip: undefined },
    ).map((l) => l.name);
    expect(names).toEqual(['phone_hour']);
  });

  it('does not charge test numbers to country limits or the budget', () => {
    expect(buildSendLimits(settings, { ...ctx, isTestNumber: true }).map((l) => l.name)).toEqual([
      'phone_hour',
      'phone_day',
      'ip_hour',
    ]);
  });
});

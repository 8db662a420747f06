import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './backoff.js';

const base = { baseDelayMs: 1000, maxDelayMs: 60_000 };

describe('retryDelayMs', () => {
  it.each([
    [1, 0, 500],
    [1, 0.999_999, 1000],
    [2, 0, 1000],
    [3, 0, 2000],
    [4, 0.5, 6000],
    [10, 0, 30_000], // capped at max, then jittered down to at least half
    [10, 0.999_999, 60_000],
  ])('attempt %i with random %f → %i ms', (attemptsMade, r, expected) => {
    expect(retryDelayMs({ ...base, attemptsMade, random: () => r })).toBe(expected);
  });

  it('never retries before Retry-After', () => {
    expect(retryDelayMs({ ...base, attemptsMade: 1, retryAfterMs: 7000, random: () => 0 })).toBe(7000);
    expect(retryDelayMs({ ...base, attemptsMade: 5, retryAfterMs: 100, random: () => 0 })).toBe(8000);
  });

  it('stays within [half, full] of the capped exponential for any random value', () => {
    for (let i = 0; i < 1000; i++) {
      const delay = retryDelayMs({ ...base, attemptsMade: 3 });
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThanOrEqual(4000);
    }
  });
});

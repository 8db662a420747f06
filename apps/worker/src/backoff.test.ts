import { describe, expect, it } from 'vitest';
import { baseDelayOf, retryDelayMs, retryFitsCodeLife } from './backoff.js';

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

describe('retryFitsCodeLife', () => {
  const life = { baseDelayMs: 2000, maxDelayMs: 60_000, codeLifeMs: 600_000 };

  it('retries while the longest next delay still leaves a tenth of the life', () => {
    // attempt 3 failed: next delay at most 8 s; 70 s left − 8 s ≥ 60 s
    expect(retryFitsCodeLife({ ...life, attemptsMade: 3, codeRemainingMs: 70_000 })).toBe(true);
    expect(retryFitsCodeLife({ ...life, attemptsMade: 3, codeRemainingMs: 67_999 })).toBe(false);
  });

  it('counts the capped delay, not the raw exponential', () => {
    expect(retryFitsCodeLife({ ...life, attemptsMade: 20, codeRemainingMs: 120_000 })).toBe(true);
    expect(retryFitsCodeLife({ ...life, attemptsMade: 20, codeRemainingMs: 119_999 })).toBe(false);
  });

  it('counts a Retry-After longer than the backoff', () => {
    expect(
      retryFitsCodeLife({ ...life, attemptsMade: 1, codeRemainingMs: 100_000, retryAfterMs: 50_000 }),
    ).toBe(false);
  });
});

describe('baseDelayOf', () => {
  it.each([
    [{ type: 'otp-backoff', delay: 2000 }, 2000],
    [500, 500],
    [undefined, 1000],
    [{ type: 'otp-backoff' }, 1000],
  ])('%j → %i', (backoff, expected) => {
    expect(baseDelayOf(backoff)).toBe(expected);
  });
});

export interface BackoffInput {
  /** Attempts made so far (1 after the first failure). */
  attemptsMade: number;
  /** The job's base delay (SMS_RETRY_BASE_DELAY_MS). */
  baseDelayMs: number;
  /** SMS_RETRY_MAX_DELAY_MS. */
  maxDelayMs: number;
  /** From the provider's Retry-After, when it sent one. */
  retryAfterMs?: number;
  /** [0, 1); injectable for tests. @defaultValue Math.random */
  random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so many
 * workers retrying after one Messaggio outage do not hit it again in lockstep. A
 * Retry-After from the provider is a floor: retrying earlier only earns another 429.
 */
export function retryDelayMs(input: BackoffInput): number {
  const random = input.random ?? Math.random;
  const exponential = Math.min(
    input.maxDelayMs,
    input.baseDelayMs * 2 ** Math.max(0, input.attemptsMade - 1),
  );
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.round(Math.max(jittered, input.retryAfterMs ?? 0));
}

/**
 * The share of a code's life kept free of retries: an SMS that arrives in the last moments
 * of its code is as useless as one that never came, and one after expiry is pure cost.
 */
export const RETRY_STOP_SHARE_OF_LIFE = 0.1;

export interface RetryWindowInput {
  /** Attempts made so far, the one that just failed included. */
  attemptsMade: number;
  baseDelayMs: number;
  maxDelayMs: number;
  retryAfterMs?: number;
  /** How long the code has left now. */
  codeRemainingMs: number;
  /** The code's whole life, from the API accepting it to its expiry. */
  codeLifeMs: number;
}

/**
 * Whether one more retry can still bring a usable code: even the longest the next delay can
 * be (before jitter, or Retry-After) leaves at least RETRY_STOP_SHARE_OF_LIFE of the code's
 * life. This, not a count, is what ends retries when SMS_MAX_ATTEMPTS is not set.
 */
export function retryFitsCodeLife(input: RetryWindowInput): boolean {
  const longestDelayMs = Math.max(
    Math.min(input.maxDelayMs, input.baseDelayMs * 2 ** Math.max(0, input.attemptsMade - 1)),
    input.retryAfterMs ?? 0,
  );
  return input.codeRemainingMs - longestDelayMs >= input.codeLifeMs * RETRY_STOP_SHARE_OF_LIFE;
}

/** The base delay a job carries in its backoff option (SMS_RETRY_BASE_DELAY_MS). */
export function baseDelayOf(backoff: unknown): number {
  if (typeof backoff === 'number') return backoff;
  const delay = (backoff as { delay?: unknown } | undefined)?.delay;
  return typeof delay === 'number' && delay > 0 ? delay : 1000;
}

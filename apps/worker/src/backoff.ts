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

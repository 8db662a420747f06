import { AppError, ErrorCode } from '@otp/core';
import { englishMessage } from '../i18n/messages.js';

/**
 * Wraps a Redis-backed step: any failure that is not already an AppError means Redis (or
 * the queue on it) did not answer, which the client sees as a fast 503, never a hang or a
 * bare 500. The cause stays on the error for the log.
 */
/** What whileRedisAnswers answers with. */
export const REDIS_ERROR_CODES = [ErrorCode.SERVICE_UNAVAILABLE] as const;

export async function whileRedisAnswers<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, 503, englishMessage('SERVICE_UNAVAILABLE'), {
      cause: err,
      headers: { 'retry-after': '5' },
    });
  }
}

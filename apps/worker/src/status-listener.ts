import { describeFailure, type StatusStore } from '@otp/core';
import type { SendEventListener } from './send-events.js';

/**
 * Feeds the worker's side of a verification into the status store: each attempt, the
 * provider that carried it and its message id, and why it gave up, as a stable code with
 * its fixed description (never a provider's own text). Throws on a failed write; the
 * processor logs it and the send goes on.
 */
export function createStatusListener(
  store: Pick<StatusStore, 'sending' | 'sent' | 'failed'>,
): SendEventListener {
  return async (event) => {
    const { verificationId } = event;
    switch (event.type) {
      case 'sending':
        await store.sending({ verificationId, attempt: event.attempt });
        return;
      case 'sent':
        await store.sent({
          verificationId,
          provider: event.provider,
          messageId: event.providerMessageId,
          attempt: event.attempt,
        });
        return;
      case 'failed':
        await store.failed({
          verificationId,
          reason: describeFailure(event.failureCode),
          code: event.failureCode,
          attempt: event.attempt,
        });
        return;
      case 'skipped': {
        // No SMS will ever carry this code; without this the record would sit at queued.
        // A spent code's record is already verified, which outranks failed.
        const code = `SKIPPED_${event.reason.toUpperCase()}`;
        await store.failed({ verificationId, reason: describeFailure(code), code });
        return;
      }
      case 'retrying':
        // The next attempt's 'sending' records it.
        return;
    }
  };
}

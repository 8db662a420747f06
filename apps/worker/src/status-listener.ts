import type { StatusStore } from '@otp/core';
import type { SendEventListener } from './send-events.js';

// Why a job was skipped, as a person reading GET /verifications/:id would put it.
const SKIP_REASONS: Record<string, string> = {
  gone: 'The code expired or was used before the SMS could be sent.',
  replaced: 'A newer code for this number replaced this one before the SMS was sent.',
  dead: 'Too many wrong codes were tried before the SMS was sent.',
};

/**
 * Feeds the worker's side of a verification into the status store: each attempt, the
 * provider's message id, and the reason it gave up. Throws on a failed write; the processor
 * logs it and the send goes on.
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
        await store.sent({ verificationId, messageId: event.providerMessageId, attempt: event.attempt });
        return;
      case 'failed':
        await store.failed({
          verificationId,
          reason: event.reason,
          code: event.errorCode,
          attempt: event.attempt,
        });
        return;
      case 'skipped':
        // No SMS will ever carry this code; without this the record would sit at queued.
        // A spent code's record is already verified, which outranks failed.
        await store.failed({
          verificationId,
          reason: SKIP_REASONS[event.reason] ?? `Not sent: ${event.reason}.`,
          code: `SKIPPED_${event.reason.toUpperCase()}`,
        });
        return;
      case 'retrying':
        // The next attempt's 'sending' records it.
        return;
    }
  };
}

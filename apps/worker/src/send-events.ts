import type { FailureCode } from '@otp/core';
import type { SmsErrorScope } from '@otp/sms';

/**
 * What happened to one send job, as the processor sees it. Status tracking and metrics
 * listen to these instead of reaching into the processor. `provider` is the provider that
 * made (or was about to make) the attempt.
 */
export type SendEvent =
  | { type: 'sending'; verificationId: string; country: string; attempt: number; provider: string }
  | {
      type: 'sent';
      verificationId: string;
      country: string;
      attempt: number;
      provider: string;
      providerMessageId?: string;
      /** From the API accepting the request to the provider accepting the SMS. */
      latencyMs: number;
    }
  | {
      /** One provider failed this try; the job retries later or fails over to `next`. */
      type: 'retrying';
      verificationId: string;
      country: string;
      attempt: number;
      provider: string;
      errorCode: string;
      scope: SmsErrorScope;
      /** The provider the job moves to, when it fails over. */
      next?: string;
    }
  | {
      type: 'failed';
      verificationId: string;
      country: string;
      attempt: number;
      provider: string;
      errorCode: string;
      scope: SmsErrorScope;
      /** What the client sees (GET /verifications/:id). */
      failureCode: FailureCode;
      permanent: boolean;
    }
  | { type: 'skipped'; verificationId: string; country: string; reason: string };

export type SendEventListener = (event: SendEvent) => void | Promise<void>;

/**
 * One listener that tells each of `listeners` (status, metrics, …) about every event. One
 * that throws does not keep the event from the others; the first failure is rethrown for
 * the processor to log.
 */
export function composeSendListeners(...listeners: Array<SendEventListener | undefined>): SendEventListener {
  const active = listeners.filter((listener): listener is SendEventListener => listener !== undefined);
  return async (event) => {
    const results = await Promise.allSettled(active.map(async (listener) => listener(event)));
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  };
}

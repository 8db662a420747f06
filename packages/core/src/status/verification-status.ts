import type { DeliveryStatus } from '@otp/sms';
/**
 * Where one verification stands. `expired` is never stored: it is derived on read once the
 * code's lifetime has passed and nothing final (verified, failed, canceled) happened first.
 */
export const VERIFICATION_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'verified',
  'canceled',
  'expired',
] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

/** The statuses a write can move a record to (all but the derived `expired`). */
export type StoredStatus = Exclude<VerificationStatus, 'expired'>;

/**
 * A write only moves a record to a higher rank, so reports that arrive late, twice or out of
 * order never undo newer news. Delivered outranks undelivered because a verification whose
 * SMS went out twice (a timed-out send that Messaggio did accept, then the retry) reached the
 * phone if either copy did. Failed outranks every delivery state: once the worker gave up, no
 * report revives it. Verified outranks everything: the code did arrive, whatever the reports
 * said (the debug fallback can deliver a code after a failed send). Canceled (POST
 * /verifications/:id/cancel deleted the live code) outranks every delivery state, so a late
 * report cannot revive it. Cancel and verify never both happen: the code store deletes the
 * code for exactly one of them, and only that one writes its status.
 */
export const STATUS_RANK: Readonly<Record<StoredStatus, number>> = {
  queued: 1,
  sending: 2,
  sent: 3,
  undelivered: 4,
  delivered: 5,
  failed: 6,
  canceled: 7,
  verified: 8,
};

export interface DeliveryReportMeaning {
  status: 'sent' | 'delivered' | 'undelivered';
  /** False for a report its provider could not place (`unknown`); it is then read as "still pending". */
  known: boolean;
}

/**
 * What a provider's (already neutral) delivery status means for the verification. `unknown`
 * stays pending, never failed: any report proves the provider accepted the message.
 */
export function interpretDeliveryReport(status: DeliveryStatus): DeliveryReportMeaning {
  return status === 'unknown' ? { status: 'sent', known: false } : { status, known: true };
}

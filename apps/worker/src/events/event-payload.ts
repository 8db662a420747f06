import { describeFailure, type EventJobData, type VerificationRecord } from '@otp/core';

/**
 * The JSON body POSTed to EVENTS_WEBHOOK_URL (see README, Events). Built at delivery time
 * from the job (the event's id, status and time) and the status record (the rest). Never
 * the code; the phone only masked, as GET /verifications/:id shows it.
 */
export interface EventPayload {
  /** `verification.sent`, `verification.delivered`, … */
  type: string;
  /** The event's id, also the `webhook-id` header: the same on every retry. */
  id: string;
  /** When the status changed (ISO 8601); `expired`: when the code ran out. */
  timestamp: string;
  data: {
    verification_id: string;
    status: EventJobData['status'];
    /** Absent only when the record is gone (older than 24 h) or not written yet: the event still goes out. */
    phone_number?: string;
    country?: string;
    metadata?: Record<string, string>;
    provider?: string;
    provider_message_id?: string;
    failure_code?: string;
    failure_reason?: string;
    attempts?: number;
    created_at?: string;
    expires_at?: string;
  };
}

export function buildEventPayload(job: EventJobData, record: VerificationRecord | undefined): EventPayload {
  return {
    type: `verification.${job.status}`,
    id: job.eventId,
    timestamp: new Date(job.at).toISOString(),
    data: {
      verification_id: job.verificationId,
      status: job.status,
      ...(record === undefined
        ? {}
        : {
            phone_number: record.phone,
            country: record.country,
            ...(record.metadata === undefined ? {} : { metadata: record.metadata }),
            ...(record.provider === undefined ? {} : { provider: record.provider }),
            ...(record.providerMessageId === undefined
              ? {}
              : { provider_message_id: record.providerMessageId }),
            // Only the stable code and its fixed text, as GET /verifications/:id shows them.
            ...(job.status === 'failed' && record.failureCode !== undefined
              ? { failure_code: record.failureCode, failure_reason: describeFailure(record.failureCode) }
              : {}),
            attempts: record.attempts,
            created_at: record.createdAt.toISOString(),
            expires_at: record.expiresAt.toISOString(),
          }),
    },
  };
}

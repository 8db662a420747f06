/**
 * What a provider's delivery report means, in words every part of the service shares. Each
 * provider maps its own report codes into these; nothing outside the provider knows the codes.
 * - `sent`: the provider or an operator has it, no final word yet.
 * - `delivered`: the handset has it.
 * - `undelivered`: it will not arrive.
 * - `unknown`: a report the provider's docs do not list; read as "still pending", never failed.
 */
export type DeliveryStatus = 'sent' | 'delivered' | 'undelivered' | 'unknown';

/** A delivery report, parsed and authenticated by its provider package. */
export interface DeliveryReport {
  provider: string;
  providerMessageId: string;
  status: DeliveryStatus;
  /** The provider's own status or error code, for logs only. */
  providerStatus?: string;
  /**
   * Our verification id, when the provider echoes a client reference (Messaggio's
   * `external_id`): finds the record when the report beats the worker's own record of the send.
   */
  verificationId?: string;
}

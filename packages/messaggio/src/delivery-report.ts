import type { DeliveryStatus } from '@otp/sms';
import { DLR_STATUS } from './wire-format.js';

/** What a Messaggio delivery-report code means, in the neutral words the service shares. */
export function deliveryStatusOf(code: number): DeliveryStatus {
  switch (code) {
    case DLR_STATUS.ACCEPTED:
    case DLR_STATUS.SENT_TO_OPERATOR:
      return 'sent';
    case DLR_STATUS.DELIVERED:
      return 'delivered';
    case DLR_STATUS.NOT_DELIVERED:
    // We send on the SMS channel alone, with no cascade to fall to: if it is unavailable the SMS will not arrive.
    case DLR_STATUS.CHANNEL_UNAVAILABLE:
      return 'undelivered';
    default:
      // A code the doc does not list: still pending, never failed.
      return 'unknown';
  }
}

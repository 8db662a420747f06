import { type Logger, maskPhone } from '@otp/core';
import type { SmsProvider } from '@otp/sms';
import type { OutgoingSms } from './outgoing-sms.js';

/**
 * Writes the code to the log instead of sending it: the `debug` provider (OTP_DEBUG, local
 * development), and with OTP_DEBUG_FALLBACK the last resort when every provider failed for
 * good. The only place a code is ever logged.
 */
export function createDebugProvider(logger: Logger, reason: 'debug-mode' | 'fallback'): SmsProvider {
  const log = logger.child({ component: 'debug-sms', reason });
  const name = reason === 'fallback' ? 'debug-fallback' : 'debug';
  return {
    name,
    async send(message) {
      const { code, requestId } = message as Partial<OutgoingSms>;
      log.warn(
        {
          verificationId: message.verificationId,
          requestId,
          phone: maskPhone(message.phone),
          code,
          text: message.text,
        },
        reason === 'fallback' ? 'SMS NOT SENT (provider failed); code for debugging' : 'DEBUG SMS (not sent)',
      );
      return { provider: name };
    },
  };
}

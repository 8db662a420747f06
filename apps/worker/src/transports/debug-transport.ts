import { type Logger, maskPhone } from '@otp/core';
import type { SmsTransport } from './sms-transport.js';

/**
 * Writes the code to the log instead of sending it: local development with no Messaggio
 * key, and (with OTP_DEBUG_FALLBACK) the last resort when Messaggio fails for good. The
 * only place a code is ever logged.
 */
export function createDebugTransport(logger: Logger, reason: 'debug-mode' | 'fallback'): SmsTransport {
  const log = logger.child({ component: 'debug-sms', reason });
  return {
    name: reason === 'fallback' ? 'debug-fallback' : 'debug',
    async send(message) {
      log.warn(
        {
          verificationId: message.verificationId,
          requestId: message.requestId,
          phone: maskPhone(message.phone),
          code: message.code,
          text: message.text,
        },
        reason === 'fallback' ? 'SMS NOT SENT (provider failed); code for debugging' : 'DEBUG SMS (not sent)',
      );
      return {};
    },
  };
}

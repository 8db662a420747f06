export {
  classifyTwilioError,
  type KnownTwilioCode,
  parseRetryAfter,
  TWILIO,
  TWILIO_ERROR_CODES,
  type TwilioClassification,
  type TwilioErrorCode,
} from './errors.js';
export {
  createTwilioProvider,
  DEFAULT_TWILIO_BASE_URL,
  type TwilioProvider,
  type TwilioProviderOptions,
} from './provider.js';
export {
  computeTwilioSignature,
  signatureUrlCandidates,
  type TwilioParams,
  twilioSignedString,
  type VerifyTwilioSignatureInput,
  verifyTwilioSignature,
} from './signature.js';
export {
  CALLBACK_REFERENCE_PARAM,
  createTwilioWebhook,
  createTwilioWebhookHandler,
  type DeliveryReportWebhook,
  mapMessageStatus,
  readStatusCallback,
  type StatusCallbackInput,
  TWILIO_WEBHOOK_PATH,
  TwilioSignatureError,
  type TwilioSignatureErrorCode,
  type TwilioWebhookOptions,
  twilioStatusCallbackUrl,
  type WebhookRequest,
  type WebhookResult,
  withCallbackReference,
} from './status-callback.js';
export { MESSAGE_STATUSES, type MessageStatus } from './wire-format.js';

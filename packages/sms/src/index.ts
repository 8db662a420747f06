export type { DeliveryReport, DeliveryStatus } from './delivery-status.js';
export {
  countsAgainstProvider,
  errorScope,
  isSmsError,
  SmsError,
  type SmsErrorInit,
  type SmsErrorScope,
} from './errors.js';
export {
  createHttpClient,
  DEFAULT_CONNECTIONS,
  type Deadline,
  type HttpAnswer,
  type HttpClient,
  type HttpClientOptions,
  parseRetryAfter,
  withDeadline,
} from './http.js';
export type { SmsMessage, SmsProvider, SmsReceipt, SmsSendOptions } from './provider.js';
export { REDACTED, redactSecrets } from './redact.js';
export type { WebhookAnswer, WebhookHandler, WebhookOutcome, WebhookRequest } from './webhook.js';

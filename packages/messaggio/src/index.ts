export {
  createMessaggioClient,
  type MessaggioClient,
  type MessaggioClientOptions,
  type SendSmsRequest,
  type SendSmsResult,
} from './client.js';
export { deliveryStatusOf } from './delivery-report.js';
export {
  classifyStatus,
  isMessaggioError,
  MessaggioError,
  type MessaggioErrorCode,
  type MessaggioErrorInit,
  parseRetryAfter,
} from './errors.js';
export { createMessaggioProvider, type MessaggioProviderOptions, toSmsError } from './provider.js';
export { createMessaggioWebhook, type MessaggioWebhookOptions } from './webhook.js';
export {
  type DeliveryReportPollBody,
  type DeliveryReportWebhookBody,
  DLR_STATUS,
} from './wire-format.js';

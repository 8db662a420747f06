export {
  createMessaggioClient,
  type MessaggioClient,
  type MessaggioClientOptions,
  type SendSmsRequest,
  type SendSmsResult,
} from './client.js';
export {
  classifyStatus,
  isMessaggioError,
  MessaggioError,
  type MessaggioErrorCode,
  type MessaggioErrorInit,
  parseRetryAfter,
} from './errors.js';
export {
  createFakeMessaggio,
  type DeliveryReportOptions,
  type FakeFailure,
  type FakeMessaggio,
  type FakeMessaggioOptions,
  type FakeRequestRecord,
  type FakeSentMessage,
} from './fake-server.js';
export {
  type DeliveryReportPollBody,
  type DeliveryReportWebhookBody,
  DLR_STATUS,
} from './wire-format.js';

// Fakes for tests and local development only: not part of the client's surface.
export {
  createFakeMessaggio,
  type DeliveryReportOptions,
  type FakeFailure,
  type FakeMessaggio,
  type FakeMessaggioOptions,
  type FakeRequestRecord,
  type FakeSentMessage,
} from './fake-server.js';

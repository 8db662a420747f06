// The fake Twilio, for tests and local development only: not part of the provider's surface.
export {
  countSegments,
  createFakeTwilio,
  FAKE_TWILIO_ACCOUNT_SID,
  FAKE_TWILIO_AUTH_TOKEN,
  type FakeCallbackRecord,
  type FakeStatusCallbackOptions,
  type FakeTwilio,
  type FakeTwilioAccount,
  type FakeTwilioFailure,
  type FakeTwilioMessage,
  type FakeTwilioOptions,
  type FakeTwilioRequest,
} from './fake-server.js';

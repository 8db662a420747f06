// The package's public surface: the provider and the webhook from the main entry, the fake only
// from `@otp/twilio/testing`, so production code never ships a fake by accident.
import * as main from '@otp/twilio';
import * as testing from '@otp/twilio/testing';
import { describe, expect, it } from 'vitest';

describe('@otp/twilio exports', () => {
  it('the main entry has the provider and the webhook, and no fake', () => {
    expect(main.createTwilioProvider).toBeTypeOf('function');
    expect(main.createTwilioWebhookHandler).toBeTypeOf('function');
    expect(main.verifyTwilioSignature).toBeTypeOf('function');
    expect(Object.keys(main).filter((name) => /fake/i.test(name))).toEqual([]);
  });

  it('the testing entry has the fake', () => {
    expect(testing.createFakeTwilio).toBeTypeOf('function');
    expect(testing.FAKE_TWILIO_ACCOUNT_SID).toMatch(/^AC[0-9a-f]{32}$/);
  });
});

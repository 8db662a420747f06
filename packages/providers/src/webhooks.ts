import { createMessaggioWebhook } from '@otp/messaggio';
import type { WebhookHandler } from '@otp/sms';
import { createTwilioWebhook } from '@otp/twilio';
import Type, { type Static } from 'typebox';

/**
 * The variables the API reads to mount provider webhooks. A provider's variables go here, and
 * its handler into WEBHOOK_FACTORIES: the API itself knows no provider.
 */
export const WebhookEnv = {
  // The last path segment of /webhooks/messaggio/<secret> (32+ random characters: it is the
  // only credential a report carries); unset = no Messaggio route (404).
  MESSAGGIO_WEBHOOK_SECRET: Type.Optional(
    Type.String({ minLength: 32, maxLength: 256, pattern: '^[A-Za-z0-9_~.-]+$' }),
  ),
  // Twilio signs its status callbacks with the Auth Token; unset = no Twilio route (404).
  TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 8, maxLength: 256 })),
  // The StatusCallback the worker sends, when it is not PUBLIC_BASE_URL/webhooks/twilio (a
  // proxy that rewrites paths): signatures are also checked against it.
  TWILIO_STATUS_CALLBACK_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 3900 })),
};
const WebhookEnvSchema = Type.Object(WebhookEnv);
export type WebhookEnv = Static<typeof WebhookEnvSchema>;

/** Builds a provider's handler from the variables, or undefined when it is not configured. */
export type WebhookFactory = (env: WebhookEnv) => WebhookHandler | undefined;

/** Every provider's delivery-report webhook, by name; `/webhooks/<name>` is mounted for each configured one. */
export const WEBHOOK_FACTORIES: Record<string, WebhookFactory> = {
  messaggio: (env) =>
    env.MESSAGGIO_WEBHOOK_SECRET === undefined
      ? undefined
      : createMessaggioWebhook({ secret: env.MESSAGGIO_WEBHOOK_SECRET }),
  // The API hands the handler PUBLIC_BASE_URL + path + query, the URL Twilio signed.
  twilio: (env) =>
    env.TWILIO_AUTH_TOKEN === undefined
      ? undefined
      : createTwilioWebhook({
          authToken: env.TWILIO_AUTH_TOKEN,
          ...(env.TWILIO_STATUS_CALLBACK_URL === undefined
            ? {}
            : { statusCallbackUrl: env.TWILIO_STATUS_CALLBACK_URL }),
        }),
};

/** The handlers of every configured provider. */
export function createWebhookHandlers(env: WebhookEnv): WebhookHandler[] {
  return Object.values(WEBHOOK_FACTORIES).flatMap((factory) => factory(env) ?? []);
}

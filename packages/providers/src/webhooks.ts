import { createMessaggioWebhook } from '@otp/messaggio';
import type { WebhookHandler } from '@otp/sms';
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
  // TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
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
  // twilio: (env) => (env.TWILIO_AUTH_TOKEN ? createTwilioWebhook({ authToken: env.TWILIO_AUTH_TOKEN }) : undefined),
};

/** The handlers of every configured provider. */
export function createWebhookHandlers(env: WebhookEnv): WebhookHandler[] {
  return Object.values(WEBHOOK_FACTORIES).flatMap((factory) => factory(env) ?? []);
}

import Type from 'typebox';

/**
 * Variables both processes read for outbound events: the API and the worker both queue
 * them (each writes some status changes), so they agree on the retry policy. Only the
 * worker delivers, so only the worker reads EVENTS_WEBHOOK_SECRET.
 */
export const EventsEnv = {
  // Unset: no events. Set it on the API and the worker alike.
  EVENTS_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
  EVENTS_MAX_ATTEMPTS: Type.Integer({ default: 12, minimum: 1, maximum: 100 }),
  EVENTS_RETRY_BASE_DELAY_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 3_600_000 }),
};

const WHSEC = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/**
 * Why an EVENTS_WEBHOOK_SECRET is unusable, or undefined. The Standard Webhooks form is
 * `whsec_` and the base64 of 24 to 64 random bytes; the value itself is never named.
 */
export function webhookSecretProblem(secret: string | undefined): string | undefined {
  const name = 'EVENTS_WEBHOOK_SECRET';
  if (secret === undefined || secret === '') {
    return `${name}: is required with EVENTS_WEBHOOK_URL (whsec_ and the base64 of 24-64 random bytes, e.g. "whsec_$(openssl rand -base64 32)")`;
  }
  const base64 = WHSEC.exec(secret)?.[1];
  if (base64 === undefined || base64.length % 4 !== 0) {
    return `${name}: must be whsec_ followed by base64 (the Standard Webhooks form), e.g. "whsec_$(openssl rand -base64 32)"`;
  }
  const bytes = Buffer.from(base64, 'base64').length;
  if (bytes < 24 || bytes > 64) return `${name}: must carry 24 to 64 bytes (got ${bytes})`;
  return undefined;
}

/**
 * Text-level redaction for secrets that travel inside strings, where pino's path-based
 * `redact` cannot reach them: the password of a URL (REDIS_URL in an error message) and
 * the secret path segment of a webhook URL (in the access log, for any method or path).
 */

const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s/@:"'\\]*:)([^\s@"'\\/]+)@/gi;
const WEBHOOK_PATH = /\/webhooks\/([^\s"'\\?#]*)/g;

/** `redis://user:secret@host` → `redis://user:***@host`; anything else unchanged. */
export function maskUrlPassword(text: string): string {
  return text.includes('@') ? text.replace(URL_PASSWORD, '$1***@') : text;
}

/** `/webhooks/messaggio/<secret>[/more]` → `/webhooks/messaggio/[redacted]`. */
export function redactWebhookPaths(text: string): string {
  if (!text.includes('/webhooks/')) return text;
  return text.replace(WEBHOOK_PATH, (_match, rest: string) => {
    const slash = rest.indexOf('/');
    const provider = slash > 0 ? rest.slice(0, slash) : '';
    if (rest === '' || (slash > 0 && rest.slice(slash + 1) === '')) return `/webhooks/${rest}`;
    return /^[a-z][a-z0-9-]*$/.test(provider) ? `/webhooks/${provider}/[redacted]` : '/webhooks/[redacted]';
  });
}

/** Both, for one log line or one message. */
export function redactSecretsInText(text: string): string {
  return redactWebhookPaths(maskUrlPassword(text));
}

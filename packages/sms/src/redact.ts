/** What stands in for a redacted value. */
export const REDACTED = '[redacted]';

// Shorter values would match by accident (a 2-digit fragment of a message id); an OTP code
// has at least 4 digits, which is also the shortest value worth hiding.
const MIN_LENGTH = 4;

/** The forms a provider may echo a value in: as sent, JSON-escaped, URL- and form-encoded. */
function echoForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  // JSON with every non-ASCII character escaped, in either hex case (\\u0412 / \\u0412).
  const asciiJson = json.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  forms.add(asciiJson);
  forms.add(asciiJson.replace(/\\u([0-9a-f]{4})/g, (_m, hex: string) => `\\u${hex.toUpperCase()}`));
  const uri = encodeURIComponent(value);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  forms.add(uri.replace(/%20/g, '+'));
  forms.add(value.replace(/\s+/g, ' '));
  return [...forms].filter((form) => form.length >= MIN_LENGTH);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes every `secrets` value (the code, the SMS text, a callback URL with its secret, a
 * login or token) from a provider's text, in each form a provider may echo it, before the text
 * is stored or logged. A digit-only secret (the code) is also removed where it stands as a
 * number of its own, whatever surrounds it. The one redaction every store and log of a
 * provider error goes through.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  const forms = secrets
    .filter((secret): secret is string => typeof secret === 'string' && secret.length >= MIN_LENGTH)
    .flatMap(echoForms);
  if (forms.length === 0) return text;
  // Longest first, so the SMS text goes as a whole before its code is looked for inside it.
  forms.sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of forms) out = out.split(form).join(REDACTED);
  for (const secret of secrets) {
    if (secret !== undefined && /^\d{4,}$/.test(secret)) {
      // A code echoed inside other digits' company ("code=123456", "(123456)", "1 2 3 4 5 6").
      const spaced = secret.split('').map(escapeRegExp).join('[\\s.-]?');
      out = out.replace(new RegExp(`(?<!\\d)${spaced}(?!\\d)`, 'g'), REDACTED);
    }
  }
  return out;
}

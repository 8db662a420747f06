// Twilio's request signing (X-Twilio-Signature), per docs/twilio-api.md "Request signing":
// HMAC-SHA1, keyed with the Auth Token, over the full URL followed by the POST parameters
// sorted by name, each name immediately followed by its value; Base64.
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Form parameters as a caller may hold them: the raw `application/x-www-form-urlencoded` body
 * (best: nothing trimmed or re-encoded), `URLSearchParams`, name/value pairs, or an object
 * (a repeated name as an array).
 */
export type TwilioParams =
  | string
  | URLSearchParams
  | ReadonlyArray<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Name/value pairs, decoded (`+` is a space, `%2B` a plus), duplicates kept. */
export function paramPairs(params: TwilioParams): Array<[string, string]> {
  if (typeof params === 'string') return [...new URLSearchParams(params)];
  if (params instanceof URLSearchParams) return [...params];
  if (Array.isArray(params)) return params.map(([name, value]) => [name, value]);
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(
    params as Record<string, string | readonly string[] | undefined>,
  )) {
    if (value === undefined) continue;
    if (typeof value === 'string') pairs.push([name, value]);
    else for (const item of value) pairs.push([name, item]);
  }
  return pairs;
}

/** Byte order of the UTF-8 encodings, which is code point order (Python's `sorted`). */
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The string Twilio signs: the URL, then for each parameter name in byte order each of its
 * distinct values in byte order, as name + value with no separators (twilio-node and
 * twilio-python both de-duplicate and sort a repeated name's values).
 */
export function twilioSignedString(url: string, params: TwilioParams): string {
  const byName = new Map<string, Set<string>>();
  for (const [name, value] of paramPairs(params)) {
    const values = byName.get(name) ?? new Set<string>();
    values.add(value);
    byName.set(name, values);
  }
  let signed = url;
  for (const name of [...byName.keys()].sort(byteOrder)) {
    for (const value of [...(byName.get(name) ?? [])].sort(byteOrder)) signed += name + value;
  }
  return signed;
}

/** The `X-Twilio-Signature` Twilio would send for this URL and these parameters. */
export function computeTwilioSignature(authToken: string, url: string, params: TwilioParams): string {
  return createHmac('sha1', authToken).update(twilioSignedString(url, params), 'utf8').digest('base64');
}

const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)(?:[^@/?#]*@)?([^/?#]*)(.*)$/is;
const HOST_PORT = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/;
const DEFAULT_PORTS: Record<string, string> = { 'http://': '80', 'https://': '443' };

/**
 * The URLs a signature may have been computed over, for the URL Twilio called. Twilio drops
 * `user:password@` and, for SMS callbacks, keeps the port, but "sig generation on back end is
 * inconsistent", so its own validators also try the URL without the port and with the scheme's
 * default port spelled out. Worked on the string, never through `new URL()`, which would
 * re-encode the query or drop a default port and so change what was signed.
 */
export function signatureUrlCandidates(url: string): string[] {
  const parts = URL_PARTS.exec(url);
  if (!parts) return [url];
  const [, scheme = '', authority = '', rest = ''] = parts;
  const hostPort = HOST_PORT.exec(authority);
  const candidates = new Set<string>([`${scheme}${authority}${rest}`]);
  if (hostPort) {
    const [, host = '', port] = hostPort;
    candidates.add(`${scheme}${host}${rest}`);
    const defaultPort = DEFAULT_PORTS[scheme.toLowerCase()];
    if (port === undefined && defaultPort !== undefined)
      candidates.add(`${scheme}${host}:${defaultPort}${rest}`);
  }
  return [...candidates];
}

export interface VerifyTwilioSignatureInput {
  /** The account's primary Auth Token (Twilio signs with it; a secondary one only once promoted). */
  authToken: string;
  /**
   * The full public URL Twilio called (scheme, host, port if any, path, query exactly as sent),
   * or several when it is not certain which (e.g. the configured StatusCallback and the URL
   * rebuilt from the request); any one matching is enough.
   */
  url: string | readonly string[];
  params: TwilioParams;
  /** The `X-Twilio-Signature` header; missing or empty never verifies. */
  signature: string | undefined;
}

/**
 * True when `signature` is Twilio's signature of the URL (or one of its port variants, see
 * {@link signatureUrlCandidates}) and the parameters, compared in constant time.
 */
export function verifyTwilioSignature(input: VerifyTwilioSignatureInput): boolean {
  const { authToken, signature } = input;
  if (!authToken || !signature) return false;
  const given = Buffer.from(signature);
  const urls = typeof input.url === 'string' ? [input.url] : input.url;
  let valid = false;
  for (const url of new Set(urls.flatMap(signatureUrlCandidates))) {
    const expected = Buffer.from(computeTwilioSignature(authToken, url, input.params));
    // The length of a SHA-1 digest in Base64 is public, so comparing it first leaks nothing.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}

// HTTP helpers every provider client shares: reading Retry-After, and handing fetch a body
// that cannot leave ky waiting.

const DELAY_SECONDS = /^\d+$/;
// All three HTTP-date forms (IMF-fixdate, RFC 850, asctime) open with a day name. Requiring it
// stops Date.parse from reading garbage such as "-5" or "1" as a year.
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i;

/**
 * Reads a Retry-After header: delay-seconds or an HTTP date, returned in milliseconds from
 * `now`. A date in the past gives 0. Anything else (empty, negative, fractional, garbage)
 * gives undefined, so the caller falls back to its own backoff.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (DELAY_SECONDS.test(trimmed)) {
    const ms = Number(trimmed) * 1000;
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * ky clones every request for retries (a tee of the body stream) and, when done, cancels its
 * spare copy; per the Streams spec that cancel settles only once the copy handed to fetch is
 * read or cancelled too. A fetch that fails early (connection refused: undici marks the body
 * used without reading it) or a test stub that ignores the body would leave the call waiting
 * for its timeout. So the body (a short JSON or form body) is read here and fetch gets a plain
 * string: both copies are settled whatever fetch does.
 */
export function releasingBody(fetchImpl: typeof fetch): typeof fetch {
  return async (input, init) => {
    if (!(input instanceof Request)) return fetchImpl(input, init);
    const body = input.body === null ? undefined : await input.text();
    return fetchImpl(input.url, {
      ...init,
      method: input.method,
      headers: input.headers,
      body,
      signal: input.signal,
    });
  };
}

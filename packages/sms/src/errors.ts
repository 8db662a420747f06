/**
 * What a failure says about the next step:
 * - `transient`: this attempt failed, the next may not (timeouts, network errors, 429, 5xx):
 *   retry with backoff, and after a few tries fail over.
 * - `provider`: this provider cannot send anything now (bad credentials, no balance, suspended
 *   account): fail over at once; retrying the same provider will not heal it.
 * - `message`: this message can never go, whoever sends it (an invalid or unreachable
 *   number): fail the job, do not fail over.
 */
export type SmsErrorScope = 'transient' | 'provider' | 'message';

export interface SmsErrorInit {
  /** The provider's name. */
  provider: string;
  scope: SmsErrorScope;
  /**
   * A stable, provider-specific code (e.g. `MESSAGGIO_UNAUTHORIZED`, `TWILIO_21211`), for logs
   * and metrics; callers branch on `scope`, never on this.
   */
  code: string;
  /** A plain sentence for operators. Providers redact credentials before building it. */
  message: string;
  /** The HTTP status, when the provider answered at all. */
  status?: number;
  /** The provider asked to wait this long before the next call (Retry-After), in ms. */
  retryAfterMs?: number;
  /**
   * For `provider` scope: this provider cannot send to this destination (a country or route
   * the account may not use) but sends to others. The job fails over as for any `provider`
   * error; the provider's circuit breaker does not count it, or one blocked country would
   * stop every message going through the provider. @defaultValue false
   */
  destinationOnly?: boolean;
  cause?: unknown;
}

/** The one error type every provider throws. */
export class SmsError extends Error {
  override readonly name = 'SmsError' as const;
  readonly provider: string;
  readonly scope: SmsErrorScope;
  readonly code: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** See {@link SmsErrorInit.destinationOnly}; false unless the provider said so. */
  readonly destinationOnly: boolean;

  constructor(init: SmsErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.provider = init.provider;
    this.scope = init.scope;
    this.code = init.code;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    this.destinationOnly = init.destinationOnly === true;
  }
}

/**
 * True for an {@link SmsError}, also one from another copy of this module (source and dist
 * loaded side by side), where `instanceof` would say no.
 */
export function isSmsError(err: unknown): err is SmsError {
  if (err instanceof SmsError) return true;
  if (!(err instanceof Error) || err.name !== 'SmsError') return false;
  const candidate = err as Partial<SmsError>;
  return typeof candidate.scope === 'string' && typeof candidate.provider === 'string';
}

/** The scope of anything thrown by a provider: an unknown error is assumed transient. */
export function errorScope(err: unknown): SmsErrorScope {
  return isSmsError(err) ? err.scope : 'transient';
}

/**
 * Whether a failure says something about the provider as a whole, so its circuit breaker
 * counts it: not a `message`-scope error, and not a `provider` error limited to one destination.
 */
export function countsAgainstProvider(err: unknown): boolean {
  if (errorScope(err) === 'message') return false;
  return !(isSmsError(err) && err.destinationOnly === true);
}

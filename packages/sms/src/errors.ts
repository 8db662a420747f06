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

  constructor(init: SmsErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.provider = init.provider;
    this.scope = init.scope;
    this.code = init.code;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
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

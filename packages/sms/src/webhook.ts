import type { DeliveryReport } from './delivery-status.js';

/**
 * One delivery-report request as the API received it, before anything parsed it. Providers
 * authenticate over the raw bytes and the URL (Twilio signs the full URL and the form fields),
 * so nothing is parsed on their behalf.
 */
export interface WebhookRequest {
  method: string;
  /** The URL as the provider called it: `PUBLIC_BASE_URL` + path + query when that is set. */
  url: string;
  /** The path after `/webhooks/<name>`, without its leading slash (`''` when none). */
  subpath: string;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  /** The body as text (`''` when there was none). */
  body: string;
}

/** What the API answers the provider with. */
export interface WebhookAnswer {
  status: number;
  contentType?: string;
  body?: string;
}

/**
 * What a handler made of a request:
 * - `reports`: authentic; apply these, then answer with `answer` (the provider's expected ack).
 * - `refused`: not authentic (wrong secret or signature): answer `status` (404 or 403) and
 *   change nothing. `reason` is for the log and never holds a secret.
 * - `invalid`: authentic or not, the body is not a report: answer 400.
 */
export type WebhookOutcome =
  | { kind: 'reports'; reports: DeliveryReport[]; answer: WebhookAnswer }
  | { kind: 'refused'; status: 403 | 404; reason: string }
  | { kind: 'invalid'; message: string };

/**
 * A provider's delivery-report endpoint, mounted by the API at `POST /webhooks/<provider>`
 * (and `/webhooks/<provider>/*`). It parses and authenticates; the API applies the reports,
 * so a handler holds no Redis and knows no verification.
 */
export interface WebhookHandler {
  /** The provider's name, the path segment after `/webhooks/`. */
  readonly provider: string;
  /**
   * The path itself carries a secret (Messaggio signs nothing): the API then writes no
   * request log line for it. @defaultValue false
   */
  readonly secretInPath?: boolean;
  handle(request: WebhookRequest): WebhookOutcome | Promise<WebhookOutcome>;
}

// HTTP load with autocannon over real loopback HTTP: a warm-up run (thrown away), then the
// measured run; every request carries a phone no other request in the run used.
import autocannon from 'autocannon';

/** KZ mobile prefixes libphonenumber holds valid: +7 700-702, 705-708. */
const KZ_MOBILE = ['700', '701', '702', '705', '706', '707', '708'];
let phoneCounter = 0;

/** A valid KZ mobile number (E.164) not handed out before in this process. */
export function nextPhone(): string {
  const n = phoneCounter++;
  const prefix = KZ_MOBILE[n % KZ_MOBILE.length] ?? '700';
  return `+7${prefix}${String(Math.floor(n / KZ_MOBILE.length) % 10_000_000).padStart(7, '0')}`;
}

export interface LoadSettings {
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

export interface LoadTarget {
  url: string;
  /** A fresh body (and extra headers) for each request. */
  request: () => { body: string; headers?: Record<string, string> };
  /** The status every answer should have (e.g. 400 for a wrong code). */
  expectStatus: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  /** Answers with another status than expected, plus connection errors and timeouts. */
  unexpected: number;
  statuses: Record<string, number>;
  durationSeconds: number;
  /**
   * Cores the server process used during the measured run (1 = one full core), when the
   * caller sampled it: on a busy machine, req/s per CPU-second moves less than req/s.
   */
  serverCpuShare?: number;
}

async function drive(target: LoadTarget, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: target.url,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const { body, headers } = target.request();
          return { ...request, body, headers: { ...request.headers, ...headers } };
        },
      },
    ],
  });
}

/** `window` brackets the measured run (not the warm-up), e.g. to sample CPU time around it. */
export async function measureHttp(
  target: LoadTarget,
  settings: LoadSettings,
  window?: { start(): void; end(): void },
): Promise<LoadResult> {
  if (settings.warmupSeconds > 0) await drive(target, settings.connections, settings.warmupSeconds);
  window?.start();
  const result = await drive(target, settings.connections, settings.durationSeconds);
  window?.end();
  const statuses: Record<string, number> = {};
  let expected = 0;
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    const count = (stats as { count?: number }).count ?? 0;
    statuses[status] = count;
    if (Number(status) === target.expectStatus) expected += count;
  }
  const total = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  return {
    requestsPerSecond: total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    total,
    unexpected: total - expected + result.errors,
    statuses,
    durationSeconds: result.duration,
  };
}

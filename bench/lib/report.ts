// The goals of issue 11 and the one table the bench prints: ratios to baselines measured
// in the same run, with p50/p99, the goal beside each and whether it was met. Markdown,
// so the README's performance section is a paste of it.
import type { LoadResult } from './load.ts';

export const GOALS = {
  sendRatio: 1.2,
  sendP99Ms: 50,
  sendWithKeyRatio: 1.0,
  verifyRatio: 1.0,
  delivery0Ratio: 1.5,
  delivery50OfBound: 0.9,
  peakRssBytes: 150 * 1024 * 1024,
} as const;

export interface Row {
  path: string;
  service: string;
  baseline: string;
  ratio: string;
  /** The same ratio per CPU-second of each server process; steadier on a busy machine. */
  ratioPerCpu?: string;
  goal: string;
  /** undefined = no goal (a reference row). */
  met: boolean | undefined;
}

export interface DeliveryResult {
  jobs: number;
  seconds: number;
  perSecond: number;
}

const whole = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => (n < 10 ? n.toFixed(1) : whole(n));

export function describeHttp(result: LoadResult, unit = 'req/s'): string {
  return `${whole(result.requestsPerSecond)} ${unit}, p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms`;
}

export const describeDelivery = (result: DeliveryResult) => `${whole(result.perSecond)} SMS/s`;

export const times = (ratio: number) => `${ratio.toFixed(2)}×`;

/** `a`'s requests per CPU-second of its server against `b`'s; empty when either was not sampled. */
export function perCpuRatio(a: LoadResult, b: LoadResult): string {
  if (!a.serverCpuShare || !b.serverCpuShare) return '';
  return times(a.requestsPerSecond / a.serverCpuShare / (b.requestsPerSecond / b.serverCpuShare));
}
export const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
export const mebibytes = (bytes: number | undefined) =>
  bytes === undefined ? 'n/a' : `${Math.round(bytes / 1024 / 1024)} MB`;

const mark = (met: boolean | undefined) => (met === undefined ? '' : met ? 'met' : '**MISS**');

export function markdownTable(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export function ratioTable(rows: Row[]): string {
  return markdownTable(
    ['path', 'this project', 'baseline (same run)', 'ratio', 'per server CPU-s', 'goal', 'status'],
    rows.map((row) => [
      row.path,
      row.service,
      row.baseline,
      row.ratio,
      row.ratioPerCpu ?? '',
      row.goal,
      mark(row.met),
    ]),
  );
}

export interface RssRow {
  process: string;
  peakRss: number | undefined;
  /** Only the API and the worker have a goal. */
  hasGoal: boolean;
}

export function rssTable(rows: RssRow[]): string {
  return markdownTable(
    ['process', 'peak RSS', 'goal', 'status'],
    rows.map((row) => {
      const met = row.hasGoal && row.peakRss !== undefined ? row.peakRss < GOALS.peakRssBytes : undefined;
      return [
        row.process,
        mebibytes(row.peakRss),
        row.hasGoal ? `< ${mebibytes(GOALS.peakRssBytes)}` : '',
        mark(met),
      ];
    }),
  );
}

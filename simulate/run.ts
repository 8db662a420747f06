// pnpm simulate:pumping: a simulated day of OTP traffic with SMS pumping attacks, in enforce
// and in record_only, against a private redis-server; prints the table of issue 13's goals
// and writes docs/fraud-simulation.svg.
//
// Options: --hours 24 --ranges 100 --seed 1 --concurrency 16 (or SIM_* variables).
// Needs `pnpm build` first (`pnpm simulate:pumping` runs it) and `redis-server` on PATH.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startPrivateRedis } from '../bench/lib/processes.ts';
import { renderChart } from './chart.ts';
import { runPumpingSimulation } from './pumping.ts';
import { formatReport } from './report.ts';

const { values } = parseArgs({
  options: {
    hours: { type: 'string', default: process.env.SIM_HOURS ?? '24' },
    // 100 of the 2,000 ranges by default, each at its full rate: the day runs in about a minute.
    ranges: { type: 'string', default: process.env.SIM_RANGES ?? '100' },
    seed: { type: 'string', default: process.env.SIM_SEED ?? '1' },
    concurrency: { type: 'string', default: process.env.SIM_CONCURRENCY ?? '16' },
    chart: { type: 'string', default: 'docs/fraud-simulation.svg' },
  },
});

const redis = await startPrivateRedis();
try {
  const common = {
    redisUrl: redis.url,
    hours: Number(values.hours),
    ranges: Number(values.ranges),
    seed: Number(values.seed),
    concurrency: Number(values.concurrency),
  };
  const enforce = await runPumpingSimulation({ ...common, keyPrefix: 'sim:enforce:', mode: 'enforce' });
  const recordOnly = await runPumpingSimulation({ ...common, keyPrefix: 'sim:record:', mode: 'record_only' });
  console.log(formatReport(enforce, recordOnly));
  writeFileSync(resolve(values.chart), renderChart(enforce));
  console.log(`\nchart: ${values.chart}`);
} finally {
  await redis.stop();
}

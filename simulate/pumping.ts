// A day of OTP traffic against the real API (built in-process, driven by inject() on a
// simulated clock, never sleeping): normal users across many number ranges with a daily
// rhythm, and SMS pumping attacks into one range at a time. Used by `pnpm simulate:pumping`
// (simulate/run.ts) and, in a small version, by test/simulate-pumping.test.ts.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { createApp } from '@otp/api';
import { loadApiConfig } from '@otp/api/config';
import { createLogger } from '@otp/core';

export type GuardMode = 'off' | 'record_only' | 'enforce';

export interface SimulationOptions {
  redisUrl: string;
  /** Every key the run writes starts with it; the caller deletes them. */
  keyPrefix: string;
  mode: GuardMode;
  /** Simulated hours from midnight UTC. @defaultValue 24 */
  hours?: number;
  /** Normal number ranges simulated (each at the full per-range rate). @defaultValue 2000 */
  ranges?: number;
  /** Normal sends per second in all, averaged over the day, for 2,000 ranges. @defaultValue 5 */
  sendsPerSecond?: number;
  /** Hours (from the start) at which an attack on a new range begins. @defaultValue [2.5, 9, 14.5, 20] */
  attackStartHours?: readonly number[];
  /** Requests in flight at once. @defaultValue 16 */
  concurrency?: number;
  /** PRNG seed: the same seed replays the same day. @defaultValue 1 */
  seed?: number;
  /** Extra API environment (thresholds under test). */
  env?: Record<string, string>;
}

export interface AttackReport {
  range: string;
  startMinute: number;
  requests: number;
  /** Answered 200: an SMS the operator pays for. */
  leaked: number;
  /** Refused 429 FRAUD_SUSPECTED. */
  blocked: number;
  /** Refused by another limit (per phone, per IP, cooldown). */
  refusedOther: number;
  /** record_only: admitted sends the guard would have refused. */
  wouldBlock: number;
  /** Minutes from the attack's start to the range's first block (or would-be block). */
  minutesToBlock: number | undefined;
}

export interface SimulationReport {
  mode: GuardMode;
  hours: number;
  ranges: number;
  legit: {
    requests: number;
    sent: number;
    verified: number;
    /** Refused 429 FRAUD_SUSPECTED: false positives. */
    blocked: number;
    /** ...of which in an attacked range (the collateral of its block). */
    blockedInAttacked: number;
    /** record_only: legitimate sends the guard would have refused. */
    wouldBlock: number;
    refusedOther: number;
  };
  attacks: AttackReport[];
  /** Every block decision (record_only: would-be), by minute of the day. */
  blocks: { range: string; minute: number; level: number; minutes: number; attacked: boolean }[];
  /** Per minute: requests to the first attacked range, its admitted sends, and a mean normal range's. */
  series: { attackRequests: number[]; attackSent: number[]; normalSent: number[] };
  /** Wall-clock seconds the run took. */
  elapsedSeconds: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** A Monday, midnight UTC: the day's rhythm starts at night. */
const DAY_START = Date.UTC(2026, 0, 5);

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Traffic by hour of day, mean 1: a trough at 04:00, a peak at 16:00 (0.3× to 1.7×). */
function rhythm(hourOfDay: number): number {
  return 1 - 0.7 * Math.cos((2 * Math.PI * (hourOfDay - 4)) / 24);
}

/** KZ mobile ranges (+7 707 xxx, +7 747 xxx): ~10,000 numbers each, as FRAUD_PREFIX_DIGITS=auto sees them. */
function rangeName(index: number): string {
  const operator = index % 2 === 0 ? '707' : '747';
  return `+7${operator}${String(Math.floor(index / 2) % 1000).padStart(3, '0')}`;
}

interface SimEvent {
  at: number;
  run: () => Promise<void>;
}

/** A binary min-heap of events by time. */
class EventQueue {
  private readonly items: SimEvent[] = [];
  get size() {
    return this.items.length;
  }
  push(event: SimEvent) {
    const items = this.items;
    items.push(event);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as SimEvent).at <= event.at) break;
      items[i] = items[parent] as SimEvent;
      i = parent;
    }
    items[i] = event;
  }
  peek(): SimEvent | undefined {
    return this.items[0];
  }
  pop(): SimEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child =
          right < items.length && (items[right] as SimEvent).at < (items[left] as SimEvent).at ? right : left;
        if ((items[child] as SimEvent).at >= last.at) break;
        items[i] = items[child] as SimEvent;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/** Runs one simulated day in one guard mode and reports what reached phones and what was refused. */
export async function runPumpingSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const started = performance.now();
  const hours = options.hours ?? 24;
  const rangeCount = options.ranges ?? 2000;
  const perRangePerSecond = (options.sendsPerSecond ?? 5) / 2000;
  const attackStarts = options.attackStartHours ?? [2.5, 9, 14.5, 20];
  const concurrency = options.concurrency ?? 16;
  const random = prng(options.seed ?? 1);
  const end = DAY_START + hours * HOUR;
  const minutes = Math.ceil((hours * HOUR) / MINUTE);

  // Each request runs on its own event's time; the app reads it through this clock.
  const clockStore = new AsyncLocalStorage<number>();
  let simNow = DAY_START;
  const clock = () => clockStore.getStore() ?? simNow;

  const config = loadApiConfig({
    NODE_ENV: 'test',
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.keyPrefix,
    QUEUE_NAME: `${options.keyPrefix.replaceAll(':', '-')}sends`,
    OTP_SECRET: 'simulation-secret-0123456789abcdef0123',
    // Codes come back in the answer (no worker runs); the queue is emptied every hour.
    OTP_DEBUG: 'true',
    LOG_LEVEL: 'warn',
    FRAUD_GUARD: options.mode,
    // In-memory per-minute limiting and load shedding run on the wall clock, which a
    // simulated day outruns; the Redis limits (per phone, per IP) run on the simulated one.
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    OVERLOAD_MAX_HEAP_USED_MB: '0',
    OVERLOAD_MAX_RSS_MB: '0',
    // A budget sized for the real day would be spent by the attacks in record_only.
    SMS_DAILY_BUDGET: '0',
    // The cooldown is a Redis TTL on the wall clock: a resend a simulated minute later
    // would find it still running. The per-phone limits (simulated clock) stay on.
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    ...options.env,
  });
  const sink = new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
  const app = await createApp({
    config,
    logger: createLogger({ service: 'otp-api', level: 'warn', stream: sink }),
    clock,
  });
  await app.ready();

  const ranges = Array.from({ length: rangeCount }, (_, i) => rangeName(i));
  const attacked = attackStarts.map((_, i) => ranges[(i * 7919 + 13) % rangeCount] as string);
  const attackIndex = new Map(attacked.map((range, i) => [range, i]));
  const report: SimulationReport = {
    mode: options.mode,
    hours,
    ranges: rangeCount,
    legit: {
      requests: 0,
      sent: 0,
      verified: 0,
      blocked: 0,
      blockedInAttacked: 0,
      wouldBlock: 0,
      refusedOther: 0,
    },
    attacks: attacked.map((range, i) => ({
      range,
      startMinute: Math.round((attackStarts[i] as number) * 60),
      requests: 0,
      leaked: 0,
      blocked: 0,
      refusedOther: 0,
      wouldBlock: 0,
      minutesToBlock: undefined,
    })),
    blocks: [],
    series: {
      attackRequests: Array(minutes).fill(0),
      attackSent: Array(minutes).fill(0),
      normalSent: Array(minutes).fill(0),
    },
    elapsedSeconds: 0,
  };
  const bump = (series: number[], minute: number) => {
    series[minute] = (series[minute] ?? 0) + 1;
  };
  const minuteOf = (at: number) => Math.min(minutes - 1, Math.floor((at - DAY_START) / MINUTE));

  app.fraudGuard.listen({
    onBlock(block) {
      const minute = minuteOf(block.blockedAt);
      const index = attackIndex.get(block.range);
      report.blocks.push({
        range: block.range,
        minute,
        level: block.level,
        minutes: Math.round((block.expiresAt - block.blockedAt) / MINUTE),
        attacked: index !== undefined,
      });
      if (index !== undefined) {
        const attack = report.attacks[index] as AttackReport;
        attack.minutesToBlock ??= minute - attack.startMinute;
      }
    },
  });
  // A range is "blocked" for record_only's would-be counts while its block lasts.
  const wouldBlockUntil = new Map<string, number>();
  app.fraudGuard.listen({
    onBlock(block) {
      wouldBlockUntil.set(block.range, block.expiresAt);
    },
  });

  const events = new EventQueue();
  const phoneIn = (range: string) => {
    return `${range}${String(Math.floor(random() * 10_000)).padStart(4, '0')}`;
  };
  const randomIp = () =>
    `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;

  async function send(phone: string, ip: string): Promise<{ status: number; code?: string; debug?: string }> {
    const res = await app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone },
      remoteAddress: ip,
    });
    const body = res.json() as { code?: string; debug_code?: string };
    return { status: res.statusCode, code: body.code, debug: body.debug_code };
  }

  async function verify(phone: string, code: string, ip: string): Promise<boolean> {
    const res = await app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone, code },
      remoteAddress: ip,
    });
    return res.statusCode === 200;
  }

  function recordLegit(range: string, at: number, answer: { status: number; code?: string }) {
    report.legit.requests += 1;
    if (answer.status === 200) {
      report.legit.sent += 1;
      if (options.mode === 'record_only' && (wouldBlockUntil.get(range) ?? 0) > at)
        report.legit.wouldBlock += 1;
      if (!attackIndex.has(range)) bump(report.series.normalSent, minuteOf(at));
    } else if (answer.code === 'FRAUD_SUSPECTED') {
      report.legit.blocked += 1;
      if (attackIndex.has(range)) report.legit.blockedInAttacked += 1;
    } else report.legit.refusedOther += 1;
  }

  /** A person asks for a code, usually types it within a minute, sometimes asks again. */
  function session(at: number, range: string, resend: boolean, phone = phoneIn(range), ip = randomIp()) {
    events.push({
      at,
      run: async () => {
        const answer = await send(phone, ip);
        recordLegit(range, at, answer);
        if (answer.status !== 200 || answer.debug === undefined) return;
        const code = answer.debug;
        const roll = random();
        const verifies = resend ? roll < 0.7 : roll < 0.85;
        if (verifies) {
          events.push({
            at: at + 3000 + random() * 57_000,
            run: async () => {
              if (await verify(phone, code, ip)) report.legit.verified += 1;
            },
          });
        } else if (!resend && random() < 0.5) {
          // No SMS seen: ask again after the cooldown; the rest give up.
          session(at + 61_000 + random() * 120_000, range, true, phone, ip);
        }
      },
    });
  }

  function attackSend(at: number, index: number, ip: string) {
    const attack = report.attacks[index] as AttackReport;
    events.push({
      at,
      run: async () => {
        const answer = await send(phoneIn(attack.range), ip);
        attack.requests += 1;
        if (index === 0) bump(report.series.attackRequests, minuteOf(at));
        if (answer.status === 200) {
          attack.leaked += 1;
          if (index === 0) bump(report.series.attackSent, minuteOf(at));
          if (options.mode === 'record_only' && (wouldBlockUntil.get(attack.range) ?? 0) > at)
            attack.wouldBlock += 1;
        } else if (answer.code === 'FRAUD_SUSPECTED') attack.blocked += 1;
        else attack.refusedOther += 1;
      },
    });
  }

  /** Adds one simulated minute's arrivals: normal sessions (Poisson per range) and attack sends. */
  function scheduleMinute(minuteStart: number) {
    const hourOfDay = ((minuteStart - DAY_START) / HOUR) % 24;
    const perRange = perRangePerSecond * 60 * rhythm(hourOfDay);
    // Sessions per minute across all ranges, then a range each: the same as per-range Poisson.
    const mean = perRange * rangeCount;
    let count = 0;
    // Knuth's method is slow for large means; a normal approximation is fine above 30.
    if (mean < 30) {
      const limit = Math.exp(-mean);
      let product = random();
      while (product > limit) {
        count += 1;
        product *= random();
      }
    } else {
      const u = Math.max(random(), 1e-12);
      count = Math.max(
        0,
        Math.round(mean + Math.sqrt(mean) * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random())),
      );
    }
    for (let i = 0; i < count; i++) {
      session(minuteStart + random() * MINUTE, ranges[Math.floor(random() * rangeCount)] as string, false);
    }
    attackStarts.forEach((startHour, index) => {
      const start = DAY_START + startHour * HOUR;
      const stop = start + 70 * MINUTE;
      if (minuteStart + MINUTE <= start || minuteStart >= stop) return;
      // Ramp from 0.2 to 5 sends/s over 10 minutes, then 5/s; addresses from a botnet of 1,000.
      let t = Math.max(minuteStart, start);
      while (t < Math.min(minuteStart + MINUTE, stop)) {
        const rate = 0.2 + 4.8 * Math.min(1, (t - start) / (10 * MINUTE));
        attackSend(t, index, `172.16.${index}.${Math.floor(random() * 1000) % 250}`);
        t += 1000 / rate;
      }
    });
  }

  const inFlight = new Set<Promise<void>>();
  let nextMinute = DAY_START;
  let nextDrain = DAY_START + HOUR;
  for (;;) {
    while (nextMinute < end && (events.peek()?.at ?? Number.POSITIVE_INFINITY) >= nextMinute) {
      scheduleMinute(nextMinute);
      nextMinute += MINUTE;
    }
    const event = events.pop();
    if (!event) {
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
      continue;
    }
    if (event.at >= end) continue;
    simNow = event.at;
    if (simNow >= nextDrain) {
      // No worker sends the queued SMS; drop them so a day of jobs does not fill Redis.
      await Promise.all(inFlight);
      await app.sendQueue.drain();
      nextDrain += HOUR;
    }
    const running = clockStore.run(event.at, () => event.run());
    inFlight.add(running);
    void running.finally(() => inFlight.delete(running));
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
    // A verify scheduled by an answer may be due before the next queued event.
  }
  await Promise.all(inFlight);
  await app.fraudGuard.settle();
  await app.sendQueue.obliterate({ force: true });
  await app.close();
  report.elapsedSeconds = (performance.now() - started) / 1000;
  return report;
}

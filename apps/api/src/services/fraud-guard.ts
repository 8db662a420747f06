import { LuaScript, phoneRange, type RangeDigits, type RedisClient, type SendLimit } from '@otp/core';

/**
 * `off`: counts nothing. `record_only`: counts, decides and reports blocks (logs, metrics,
 * admin list) but refuses nothing. `enforce`: refuses sends to blocked ranges.
 */
export type FraudMode = 'off' | 'record_only' | 'enforce';

export interface FraudSettings {
  mode: FraudMode;
  /** National digits that name a range; `auto` = all but the last 4 (~10k numbers). */
  rangeDigits: RangeDigits;
  /** The recent window whose sends are compared with the range's baseline, in minutes. */
  windowMinutes: number;
  /** Sends in the window below which a range is never suspect (tiny ranges, quiet hours). */
  minSends: number;
  /** How many times its own hourly average (per window) a range must send to be suspect. */
  surgeFactor: number;
  /** Verified ÷ sent below which a surging range is suspect. */
  minConversion: number;
  /** Old-enough sends needed before the conversion is trusted. */
  conversionMinSample: number;
  /** Sends count towards the conversion once this many minutes old (codes used by then). */
  conversionMinAgeMinutes: number;
  /** ...and until this many minutes old. */
  conversionMaxAgeMinutes: number;
  /** Block durations by offence: the first, the second, the third and later. */
  blockSeconds: readonly number[];
  /** An offence is forgotten this long after the range's last block. */
  escalationResetSeconds: number;
  /** Sends with a pass a block lets through, at most (bounds what an attack gains from verified numbers). */
  passesPerBlock: number;
  /** A number that verified gets one send through a block within this long (renewed by each verify). */
  verifiedExemptSeconds: number;
}

/** What a range looked like when it was blocked: the figures of the warn line and the admin list. */
export interface FraudBlock {
  range: string;
  country: string;
  mode: Exclude<FraudMode, 'off'>;
  /** 1 for the first offence within FRAUD_ESCALATION_RESET_SECONDS, then 2, 3… */
  level: number;
  blockedAt: number;
  expiresAt: number;
  /** Sends (and refused attempts) in the recent window. */
  recentSends: number;
  /** The range's average sends per window over the past day. */
  baselineSends: number;
  /** Sends old enough to have been verified, and the verifies in the same minutes. */
  sampleSends: number;
  sampleVerified: number;
}

export interface FraudEvents {
  /** A new block (or, in record_only, a would-be block). */
  onBlock?(block: FraudBlock): void;
  /** A send refused by a block (enforce) or one that would have been (record_only). */
  onRefused?(input: { country: string; mode: Exclude<FraudMode, 'off'> }): void;
}

export interface FraudSendContext {
  phone: string;
  country: string;
  now: number;
  /** Test numbers send no SMS: not counted, never blocked. */
  isTestNumber: boolean;
  /** Sends through an API key marked trusted are counted but never blocked. */
  trusted: boolean;
}

export interface FraudGuard {
  readonly mode: FraudMode;
  /** Adds listeners for blocks and refusals (metrics). */
  listen(events: FraudEvents): void;
  rangeOf(phone: string, country: string): string;
  /** The send limits (see SendLimit) that count this send and, in enforce mode, refuse it. */
  limits(ctx: FraudSendContext): SendLimit<'fraud_block'>[];
  /**
   * After an admitted send: decides whether its range is now suspect (blocks it) and, in
   * record_only, whether this send would have been refused. Off the response path.
   */
  afterSend(ctx: FraudSendContext): Promise<FraudBlock | undefined>;
  /** After a send refused by a block: counted as demand, so a block's end is judged by it. */
  afterRefused(ctx: FraudSendContext): Promise<void>;
  /** After a right code: counts the verify and marks the number as verified (exempt). */
  afterVerify(input: { phone: string; country: string; now: number }): Promise<void>;
  /** Blocks in force (record_only: would-be blocks), newest first. */
  listBlocks(now: number): Promise<FraudBlock[]>;
  /** Lifts a range's block; its offence count stays. Resolves false when none was in force. */
  lift(range: string): Promise<boolean>;
  /** How many ranges are blocked now (the otp_fraud_suspect_ranges gauge). */
  activeBlocks(now: number): Promise<number>;
  /** Waits for the background work started so far (tests, the simulator, app close). */
  settle(): Promise<void>;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Hourly buckets averaged for a range's baseline. */
const BASELINE_HOURS = 24;

/**
 * Decides, from a range's minute and hour buckets, whether it is suspect, and blocks it in
 * the same step (so concurrent evaluations block once and escalate once). Times come from
 * the caller's clock (the block holds its end, the level its expiry), so a simulated day
 * behaves like a real one; the keys' TTLs only clean up.
 *
 * KEYS: block (a hash: its end in ms, passes let through), block details (JSON), offence level ('<level>:<expires ms>').
 * ARGV: now, m, h, window minutes, min age minutes, min sends, surge factor, min conversion,
 * min sample, block ms (comma-separated by level), level ttl ms, the block's country and
 * mode (stored with the figures, for the admin list), then the range's key base, the first
 * of its m minute buckets and the first of its h hour buckets. The buckets' names are made
 * here from the base (admitted sends `s:<minute>`, refused attempts `a:<minute>`, verifies
 * `v:<minute>`, hourly sends `h:<hour>`, the past day without the current hour): all carry
 * the range's hash tag, so they share the declared keys' slot, and building ~70 key names
 * per send here instead of in the API halves what the guard costs a send.
 * Returns {'blocked'} while a block is in force, {'ok'}, or
 * {'new', level, block ms, recent, baseline (string), sample sends, sample verifies}.
 */
const evaluateScript = new LuaScript(
  'otp-fraud-evaluate',
  `
local now = tonumber(ARGV[1])
if (tonumber(redis.call('HGET', KEYS[1], 'until')) or 0) > now then return {'blocked'} end
local m, h, w, age = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function sum(values, from, to)
  local total = 0
  for i = from, to do total = total + (tonumber(values[i]) or 0) end
  return total
end
local base, m0, h0 = ARGV[14], tonumber(ARGV[15]), tonumber(ARGV[16])
local function buckets(kind, from, count)
  local names = {}
  for i = 0, count - 1 do names[i + 1] = base .. kind .. ':' .. (from + i) end
  return names
end
local sent = redis.call('MGET', unpack(buckets('s', m0, m)))
local refused = redis.call('MGET', unpack(buckets('a', m0, m)))
local recent = sum(sent, m - w + 1, m) + sum(refused, m - w + 1, m)
if recent < tonumber(ARGV[6]) then return {'ok'} end
local hours = redis.call('MGET', unpack(buckets('h', h0, h)))
local baseline = sum(hours, 1, h) / h * w / 60
if recent < tonumber(ARGV[7]) * baseline then return {'ok'} end
-- Conversion over sends old enough to have been used (minute buckets up to m - age), and
-- the verifies of the whole span (a code is used within about a minute of its send).
local sample = sum(sent, 1, m - age)
local verified = sum(redis.call('MGET', unpack(buckets('v', m0, m))), 1, m)
local min_conversion, min_sample = tonumber(ARGV[8]), tonumber(ARGV[9])
local level = 0
local stored = redis.call('GET', KEYS[3])
if stored then
  local l, expires = string.match(stored, '^(%d+):(%d+)$')
  if l and tonumber(expires) > now then level = tonumber(l) end
end
-- Surging right now: the newest minutes hold their share of the floor, so the tail of an
-- attack that has stopped (still in the window) blocks nothing.
if sum(sent, m - age + 1, m) + sum(refused, m - age + 1, m) < tonumber(ARGV[6]) * age / w then return {'ok'} end
local suspect
if sample >= min_sample then
  suspect = verified < min_conversion * sample
else
  -- Too few sends let through to judge (the range was blocked until now): a range that
  -- offended before is blocked again unless people verified.
  suspect = level > 0 and verified < min_conversion * min_sample
end
if not suspect then return {'ok'} end
level = level + 1
local durations = {}
for d in string.gmatch(ARGV[10], '%d+') do durations[#durations + 1] = tonumber(d) end
local ms = durations[math.min(level, #durations)]
local reset = tonumber(ARGV[11])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'until', now + ms, 'passes', 0)
redis.call('PEXPIRE', KEYS[1], ms)
redis.call('SET', KEYS[2], cjson.encode({level = level, recent = recent, baseline = baseline,
  sample = sample, verified = verified, country = ARGV[12], mode = ARGV[13], at = ARGV[1], ms = ms}), 'PX', ms)
redis.call('SET', KEYS[3], level .. ':' .. (now + reset), 'PX', reset)
return {'new', level, ms, recent, tostring(baseline), sample, verified}
`,
  'variadic',
);

export function createFraudGuard(options: {
  redis: RedisClient;
  keyPrefix: string;
  settings: FraudSettings;
}): FraudGuard {
  const { redis, settings } = options;
  const listeners: FraudEvents[] = [];
  const events: Required<FraudEvents> = {
    onBlock: (block) => {
      for (const l of listeners) l.onBlock?.(block);
    },
    onRefused: (input) => {
      for (const l of listeners) l.onRefused?.(input);
    },
  };
  const p = `${options.keyPrefix}fraud:`;
  const mode = settings.mode;
  // One hash tag per range: a range's buckets, block and level share a cluster slot, so the
  // evaluation is one script. The index of blocks and the country counters are shared keys.
  const rangeKey = (range: string, rest: string) => `${p}{${range}}:${rest}`;
  const indexKey = `${p}blocks`;
  const verifiedKey = (phone: string) => `${p}verified:{${phone}}`;
  const minuteSpan = Math.max(settings.windowMinutes, settings.conversionMaxAgeMinutes);
  // Minute buckets live while an evaluation may read them.
  const minuteTtlMs = (minuteSpan + 1) * MINUTE_MS;
  const hourTtlMs = (BASELINE_HOURS + 1) * HOUR_MS;
  const pending = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    pending.add(work);
    void work.then(
      () => pending.delete(work),
      () => pending.delete(work),
    );
    return work;
  };

  const rangeOf = (phone: string, country: string) => phoneRange(phone, country, settings.rangeDigits);
  const minutes = (now: number, count: number) => {
    const current = Math.floor(now / MINUTE_MS);
    return Array.from({ length: count }, (_, i) => current - count + 1 + i);
  };

  async function readBlock(range: string): Promise<FraudBlock | undefined> {
    const raw = await redis.get(rangeKey(range, 'block-info'));
    return raw === null ? undefined : parseBlock(raw, range);
  }

  function parseBlock(raw: string, range: string): FraudBlock | undefined {
    try {
      const stored = JSON.parse(raw) as {
        level: number;
        recent: number;
        baseline: number;
        sample: number;
        verified: number;
        country: string;
        mode: FraudBlock['mode'];
        at: string;
        ms: number;
      };
      const blockedAt = Number(stored.at);
      return {
        range,
        country: stored.country,
        mode: stored.mode,
        level: stored.level,
        blockedAt,
        expiresAt: blockedAt + stored.ms,
        recentSends: stored.recent,
        baselineSends: Math.round(stored.baseline * 100) / 100,
        sampleSends: stored.sample,
        sampleVerified: stored.verified,
      };
    } catch {
      return undefined;
    }
  }

  return {
    mode,
    rangeOf,
    listen(more) {
      listeners.push(more);
    },

    limits(ctx) {
      if (mode === 'off' || ctx.isTestNumber) return [];
      const range = rangeOf(ctx.phone, ctx.country);
      const [minute] = minutes(ctx.now, 1);
      const hour = Math.floor(ctx.now / HOUR_MS);
      const limits: SendLimit<'fraud_block'>[] = [];
      if (mode === 'enforce' && !ctx.trusted) {
        // A number that verified before is a person: its pass gets one send through a block
        // (spent there, renewed when it verifies again), so an attack cycling through a
        // range's numbers gets at most one SMS per verified number, and at most
        // passesPerBlock in all.
        limits.push({ name: 'fraud_block', key: verifiedKey(ctx.phone), max: 0, windowMs: 0, kind: 'pass' });
        limits.push({
          name: 'fraud_block',
          key: rangeKey(range, 'block'),
          max: settings.passesPerBlock,
          windowMs: 0,
          kind: 'block',
        });
      }
      limits.push(
        {
          name: 'fraud_block',
          key: rangeKey(range, `s:${minute}`),
          max: 0,
          windowMs: minuteTtlMs,
          kind: 'count',
        },
        {
          name: 'fraud_block',
          key: rangeKey(range, `h:${hour}`),
          max: 0,
          windowMs: hourTtlMs,
          kind: 'count',
        },
        {
          name: 'fraud_block',
          key: `${p}country:${ctx.country}:s:${hour}`,
          max: 0,
          windowMs: hourTtlMs,
          kind: 'count',
        },
      );
      return limits;
    },

    afterSend(ctx) {
      if (mode === 'off' || ctx.isTestNumber) return Promise.resolve(undefined);
      return track(
        (async () => {
          const range = rangeOf(ctx.phone, ctx.country);
          const firstMinute = Math.floor(ctx.now / MINUTE_MS) - minuteSpan + 1;
          const firstHour = Math.floor(ctx.now / HOUR_MS) - BASELINE_HOURS;
          const reply = (await evaluateScript.run(
            redis,
            [rangeKey(range, 'block'), rangeKey(range, 'block-info'), rangeKey(range, 'level')],
            [
              ctx.now,
              minuteSpan,
              BASELINE_HOURS,
              settings.windowMinutes,
              settings.conversionMinAgeMinutes,
              settings.minSends,
              settings.surgeFactor,
              settings.minConversion,
              settings.conversionMinSample,
              settings.blockSeconds.map((s) => s * 1000).join(','),
              settings.escalationResetSeconds * 1000,
              ctx.country,
              mode,
              rangeKey(range, ''),
              firstMinute,
              firstHour,
            ],
          )) as [string, number?, number?, number?, string?, number?, number?];
          if (reply[0] === 'blocked') {
            // Let through with a block in force: an exempt number (enforce), or a send the
            // block would have refused (record_only).
            if (mode === 'record_only' && !ctx.trusted) events.onRefused({ country: ctx.country, mode });
            return undefined;
          }
          if (reply[0] !== 'new') return undefined;
          const [, level = 1, ms = 0, recent = 0, baseline = '0', sample = 0, verified = 0] = reply;
          const block: FraudBlock = {
            range,
            country: ctx.country,
            mode,
            level,
            blockedAt: ctx.now,
            expiresAt: ctx.now + ms,
            recentSends: recent,
            baselineSends: Math.round(Number(baseline) * 100) / 100,
            sampleSends: sample,
            sampleVerified: verified,
          };
          // Indexed for the admin list and the gauge: a shared key, outside the range's script.
          await redis
            .multi()
            .zadd(indexKey, block.expiresAt, range)
            .zremrangebyscore(indexKey, '-inf', ctx.now)
            .exec();
          events.onBlock(block);
          return block;
        })(),
      );
    },

    afterRefused(ctx) {
      if (mode === 'off') return Promise.resolve();
      events.onRefused({ country: ctx.country, mode });
      const key = rangeKey(rangeOf(ctx.phone, ctx.country), `a:${Math.floor(ctx.now / MINUTE_MS)}`);
      return track(
        redis
          .multi()
          .incr(key)
          .pexpire(key, minuteTtlMs)
          .exec()
          .then(() => undefined),
      );
    },

    afterVerify({ phone, country, now }) {
      if (mode === 'off') return Promise.resolve();
      const range = rangeOf(phone, country);
      const minuteKey = rangeKey(range, `v:${Math.floor(now / MINUTE_MS)}`);
      const countryKey = `${p}country:${country}:v:${Math.floor(now / HOUR_MS)}`;
      // Three keys of three slots (range, country, phone): separate transactions, sent
      // together, so they also work on a Redis Cluster.
      return track(
        Promise.all([
          redis.multi().incr(minuteKey).pexpire(minuteKey, minuteTtlMs).exec(),
          redis.multi().incr(countryKey).pexpire(countryKey, hourTtlMs).exec(),
          redis.set(verifiedKey(phone), '1', 'EX', settings.verifiedExemptSeconds),
        ]).then(() => undefined),
      );
    },

    async listBlocks(now) {
      const ranges = await redis.zrangebyscore(indexKey, now, '+inf');
      const blocks = await Promise.all(ranges.map((range) => readBlock(range)));
      return blocks
        .filter((block): block is FraudBlock => block !== undefined && block.expiresAt > now)
        .sort((a, b) => b.blockedAt - a.blockedAt);
    },

    async lift(range) {
      // The block and the index are on different slots of a Redis Cluster: two commands.
      const [deleted] = await Promise.all([redis.del(rangeKey(range, 'block')), redis.zrem(indexKey, range)]);
      return deleted > 0;
    },

    async activeBlocks(now) {
      return redis.zcount(indexKey, now, '+inf');
    },

    async settle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}

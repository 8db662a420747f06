import { LuaScript } from './lua-script.js';

// Each script is one atomic step: Redis runs it without interleaving other commands, which
// is what makes "two concurrent verifies of one right code: exactly one succeeds" true.

/**
 * Issues a code only if the resend cooldown and every send limit allow it, and then
 * counts the send against all of them: one round trip, and a refused send consumes
 * nothing. Limits are sliding windows (a sorted set of send times, exact) or fixed windows
 * (a counter whose key expires with its window, e.g. a UTC day).
 *
 * KEYS: code hash, cooldown string, the issue's undo mark, then one key per limit.
 * ARGV: digest, verification id, ttl s, cooldown s, now ms, limit count, then per limit:
 *   kind ('s' sliding | 'f' fixed | 'c' check a sliding set counted elsewhere | 'p' pass:
 *   while this key exists one send gets through the 'b' limits after it, and a send that
 *   did deletes the key | 'b' block: refuse until the time (ms) in this hash's 'until',
 *   but let max sends with a pass through | 'n' count into this key, no max), max, window ms.
 * Returns {1, 0, 0} when issued, {0, ms left, 0} while the cooldown runs, {0, ms left, i}
 * when limit i (1-based) is full, {0, 0, -1} when this verification id was already undone
 * (a write that arrives after its own undo changes nothing).
 */
export const issueScript = new LuaScript(
  'otp-issue',
  `
local cooldown = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local pass, spend, through = false, false, false
if redis.call('EXISTS', KEYS[3]) == 1 then return {0, 0, -1} end
if cooldown > 0 then
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then return {0, left, 0} end
end
for i = 1, n do
  local key = KEYS[3 + i]
  local kind, max, window = ARGV[4 + 3 * i], tonumber(ARGV[5 + 3 * i]), tonumber(ARGV[6 + 3 * i])
  if kind == 's' or kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if redis.call('ZCARD', key) >= max then
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      return {0, math.max(1, tonumber(oldest[2]) + window - now), i}
    end
  elseif kind == 'p' then
    -- an exemption (e.g. a number that verified before) from the blocks after it
    if redis.call('EXISTS', key) == 1 then pass = key end
  elseif kind == 'b' then
    -- a hash: the block's end (ms, on the caller's clock like the windows) and the passes
    -- it let through; a pass gets a send through while fewer than max have gone through
    local block = redis.call('HMGET', key, 'until', 'passes')
    local left = (tonumber(block[1]) or 0) - now
    if left > 0 then
      if not pass or (tonumber(block[2]) or 0) >= max then return {0, left, i} end
      spend, through = pass, key
    end
  elseif kind == 'f' then
    if (tonumber(redis.call('GET', key)) or 0) >= max then
      return {0, math.max(1, redis.call('PTTL', key)), i}
    end
  end
end
for i = 1, n do
  local key = KEYS[3 + i]
  local kind, window = ARGV[4 + 3 * i], tonumber(ARGV[6 + 3 * i])
  if kind == 's' then
    redis.call('ZADD', key, now, ARGV[2])
    redis.call('PEXPIRE', key, window)
  elseif kind == 'c' or kind == 'p' or kind == 'b' then
    -- read only: a lock, an exemption or a block, written elsewhere
  elseif redis.call('INCR', key) == 1 then
    -- 'f' and 'n': the key names its period, so it expires once, from its first count
    redis.call('PEXPIRE', key, window)
  end
end
-- a pass that got this send through a block is spent (renewed by the number's next verify)
if spend then
  redis.call('DEL', spend)
  redis.call('HINCRBY', through, 'passes', 1)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'id', ARGV[2], 'a', 0)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if cooldown > 0 then redis.call('SET', KEYS[2], ARGV[2], 'EX', cooldown) end
return {1, 0, 0}
`,
  'variadic',
);

/**
 * KEYS: code hash, then three failed-verify sorted sets: per (phone, client), per phone
 * across clients (the ceiling), per client across phones (an IP or API key), then the
 * request's idempotency record ('' ARGV[9] = none).
 * ARGV: digest candidates (space-separated, see codeDigestCandidates), max attempts,
 * window ms, now ms, nonce, then the three maxima in KEYS
 * order (0 = that limit is off), then the idempotency record to store when the code is
 * spent, and its ttl s: a request that spends a code but whose answer is lost (a Redis
 * timeout) leaves its 200 behind for the retry with the same Idempotency-Key.
 * Returns {'verified', id} | {'invalid', attempts left, id} | {'expired'} |
 * {'attempts_exceeded', id} | {'limited', ms left, scope} where scope is 'client', 'phone'
 * (the ceiling) or 'caller'.
 * A dead code (attempts used up) is kept until its TTL so the right code still fails.
 * Every outcome but 'verified' counts as a failure in all three, an unknown number
 * included, so the limits say nothing about whether a number ever asked for a code.
 * Wrong attempts per code are counted on the code itself, across all clients.
 */
export const verifyScript = new LuaScript(
  'otp-verify',
  `
local window = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local scopes = {'client', 'phone', 'caller'}
local order = {3, 1, 2}
for _, i in ipairs(order) do
  local max = tonumber(ARGV[5 + i])
  local key = KEYS[1 + i]
  if max > 0 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    if redis.call('ZCARD', key) >= max then
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      return {'limited', math.max(1, tonumber(oldest[2]) + window - now), scopes[i]}
    end
  end
end
local function failed()
  for i = 1, 3 do
    if tonumber(ARGV[5 + i]) > 0 then
      redis.call('ZADD', KEYS[1 + i], now, ARGV[5])
      redis.call('PEXPIRE', KEYS[1 + i], window)
    end
  end
end
local rec = redis.call('HMGET', KEYS[1], 'd', 'id', 'a')
local stored = rec[1]
if not stored then
  failed()
  return {'expired'}
end
local max = tonumber(ARGV[2])
local attempts = tonumber(rec[3]) or 0
if attempts >= max then
  failed()
  return {'attempts_exceeded', rec[2]}
end
-- ARGV[1] holds one candidate per secret, space-separated: take the one made with the
-- stored digest's key id ('<id>:<hex>'; none = a digest from before key ids).
local function key_id(value)
  local colon = string.find(value, ':', 1, true)
  if colon then return string.sub(value, 1, colon - 1) end
  return ''
end
local given = ''
for candidate in string.gmatch(ARGV[1], '%S+') do
  if key_id(candidate) == key_id(stored) then
    given = candidate
    break
  end
end
-- Constant-time comparison: every byte is visited whatever the first difference.
local diff = 0
if #stored ~= #given then diff = 1 end
for i = 1, #given do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i) or 0, string.byte(given, i)))
end
if diff == 0 then
  redis.call('DEL', KEYS[1])
  if ARGV[9] ~= '' then redis.call('SET', KEYS[5], ARGV[9], 'EX', ARGV[10]) end
  return {'verified', rec[2]}
end
failed()
attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
return {'invalid', max - attempts, rec[2]}
`,
  5,
);

/**
 * KEYS: code hash. ARGV: verification id, max attempts.
 * Returns {'live', ms left} | {'gone'} (expired or spent) | {'replaced'} | {'dead'}.
 */
export const liveScript = new LuaScript(
  'otp-live',
  `
local rec = redis.call('HMGET', KEYS[1], 'id', 'a')
if not rec[1] then return {'gone', 0} end
if rec[1] ~= ARGV[1] then return {'replaced', 0} end
if (tonumber(rec[2]) or 0) >= tonumber(ARGV[2]) then return {'dead', 0} end
return {'live', redis.call('PTTL', KEYS[1])}
`,
  1,
);

/**
 * KEYS: code hash, cooldown, the issue's undo mark, then the limit keys the issue counted
 * against. ARGV: verification id, undo mark ttl s, then one kind (see the issue script) per limit.
 * Undoes an issue whose job could not be enqueued (or whose answer never came back), only
 * if nothing newer replaced it, and gives back what it took from each limit: a send that
 * never happened costs nothing. Idempotent: the undo mark makes a second undo a no-op, and
 * an issue that arrives after its undo is refused by the issue script.
 * Returns 1 when this call undid the issue, 0 when it was already undone.
 */
export const revokeScript = new LuaScript(
  'otp-revoke',
  `
local id = ARGV[1]
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then return 0 end
-- Did the issue run? Its code is still the current one, or a sliding limit holds its id.
-- If not, the mark alone is enough: the issue, should it still arrive, is refused.
local ran = redis.call('HGET', KEYS[1], 'id') == id
for i = 4, #KEYS do
  if not ran and ARGV[i - 1] == 's' and redis.call('ZSCORE', KEYS[i], id) then ran = true end
end
if not ran then return 1 end
if redis.call('HGET', KEYS[1], 'id') == id then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == id then redis.call('DEL', KEYS[2]) end
for i = 4, #KEYS do
  local kind = ARGV[i - 1]
  if kind == 's' then
    redis.call('ZREM', KEYS[i], id)
  elseif (kind == 'f' or kind == 'n') and (tonumber(redis.call('GET', KEYS[i])) or 0) > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
`,
  'variadic',
);

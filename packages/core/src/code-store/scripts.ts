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
 * Then (same code on resend): reuse '1' | '0', max attempts, min ms left to reuse, binding,
 *   key ids that can open a sealed code (space-separated), the new code sealed ('' = none).
 * Returns {1, 0, 0} when issued, {1, 0, 0, verification id, sealed code, ms left} when a
 * live code was kept for this send, {0, ms left, 0} while the cooldown runs, {0, ms left, i}
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
-- Same code on resend (issue 12): the arguments after the limits' ask to keep a live code
-- of the same binding (purpose and caller); it keeps its digest, attempts and expiry, and
-- only the send (ARGV[2], counted above) is new: 's' names it, for the revoke.
local r = 7 + 3 * n
if cooldown > 0 then redis.call('SET', KEYS[2], ARGV[2], 'EX', cooldown) end
if ARGV[r] == '1' then
  local rec = redis.call('HMGET', KEYS[1], 'id', 'a', 'c', 'b')
  local sealed = rec[3]
  local kid = sealed and string.match(sealed, '^([^:]*):') or ''
  if sealed and rec[4] == ARGV[r + 3] and (tonumber(rec[2]) or 0) < tonumber(ARGV[r + 1])
    and string.find(' ' .. ARGV[r + 4] .. ' ', ' ' .. kid .. ' ', 1, true) then
    local left = redis.call('PTTL', KEYS[1])
    if left >= tonumber(ARGV[r + 2]) then
      redis.call('HSET', KEYS[1], 's', ARGV[2])
      return {1, 0, 0, rec[1], sealed, left}
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'id', ARGV[2], 'a', 0)
if (ARGV[r + 5] or '') ~= '' then redis.call('HSET', KEYS[1], 'c', ARGV[r + 5], 'b', ARGV[r + 3]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
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
-- A resend that kept a code names itself in 's': undoing it gives back only its own charges,
-- and the code is deleted only while no other send carries it (the user may hold it).
local rec = redis.call('HMGET', KEYS[1], 'id', 's')
local ran = rec[1] == id or rec[2] == id
for i = 4, #KEYS do
  if not ran and ARGV[i - 1] == 's' and redis.call('ZSCORE', KEYS[i], id) then ran = true end
end
if not ran then return 1 end
if rec[1] == id and (not rec[2] or rec[2] == id) then redis.call('DEL', KEYS[1]) end
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

/**
 * KEYS: code hash, the cancel mark of this verification id. ARGV: verification id.
 * Deletes the phone's code only if it is this verification's (a newer code for the phone is
 * never touched), and leaves a mark for the code's remaining life so a repeated cancel
 * (say, after its answer was lost) is told it already happened. The cooldown and the limit
 * charges stay: the SMS was paid for, and cancel-then-resend must not skip the cooldown.
 * Returns 'canceled' | 'already' (this id was canceled before) | 'gone' (expired or spent)
 * | 'replaced' (a newer code).
 */
export const cancelScript = new LuaScript(
  'otp-cancel',
  `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'already' end
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return 'gone' end
if id ~= ARGV[1] then return 'replaced' end
local left = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
if left > 0 then redis.call('SET', KEYS[2], '1', 'PX', left) end
return 'canceled'
`,
  2,
);

/**
 * Redis Cluster only: charges one shared send limit (a key outside the phone's slot, e.g.
 * per IP, per country, the daily budget) for one send, before the phone's issue script runs.
 * KEYS: the limit's key, the send's reservation mark (same slot as the limit's key).
 * ARGV: kind ('s' | 'f' | 'c' | 'n' | 'b', as in the issue script), max, window ms, now ms,
 * verification id, mark ttl s, and for 'b' whether the phone holds a pass ('1' | '0').
 * Returns {1, 0, 0} when charged (or already charged by this id), {1, 0, 0, 1} when a block
 * let this send through on the phone's pass (the caller then spends the pass), {0, ms left,
 * 0} when full or blocked, {0, 0, -1} when this id was already refunded (a late reservation
 * changes nothing). The mark says "charged" ('1': a counter a refund may DECR; 'p': a pass
 * counted on a block, which a refund gives back) or "refunded" ('0'), so a refund is exact
 * and idempotent.
 */
export const reserveScript = new LuaScript(
  'otp-reserve',
  `
local mark = redis.call('GET', KEYS[2])
if mark == '0' then return {0, 0, -1} end
if mark == '1' then return {1, 0, 0} end
if mark == 'p' then return {1, 0, 0, 1} end
local kind, max, window, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if kind == 'b' then
  -- the fraud guard's block: a hash with its end (ms) and the passes it let through
  local block = redis.call('HMGET', KEYS[1], 'until', 'passes')
  local left = (tonumber(block[1]) or 0) - now
  if left <= 0 then return {1, 0, 0} end
  if ARGV[7] ~= '1' or (tonumber(block[2]) or 0) >= max then return {0, left, 0} end
  redis.call('HINCRBY', KEYS[1], 'passes', 1)
  redis.call('SET', KEYS[2], 'p', 'EX', ARGV[6])
  return {1, 0, 0, 1}
end
if kind == 'n' then
  -- a count without a maximum (the fraud guard's per-range buckets)
  if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], window) end
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[6])
  return {1, 0, 0}
end
if kind == 's' or kind == 'c' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  if kind == 's' and redis.call('ZSCORE', KEYS[1], ARGV[5]) then return {1, 0, 0} end
  if redis.call('ZCARD', KEYS[1]) >= max then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, math.max(1, tonumber(oldest[2]) + window - now), 0}
  end
  if kind == 's' then
    redis.call('ZADD', KEYS[1], now, ARGV[5])
    redis.call('PEXPIRE', KEYS[1], window)
  end
  return {1, 0, 0}
end
-- A limit kind added to the issue script needs its branch here too: fail loudly, never
-- let a shared limit go unchecked on a cluster.
if kind ~= 'f' then return redis.error_reply('otp-reserve: unknown limit kind ' .. kind) end
if (tonumber(redis.call('GET', KEYS[1])) or 0) >= max then
  return {0, math.max(1, redis.call('PTTL', KEYS[1])), 0}
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], window) end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[6])
return {1, 0, 0}
`,
  2,
);

/**
 * Redis Cluster only: gives back what reserveScript charged for one send (the send was
 * refused by the phone's script, or undone). KEYS: the limit's key, the reservation mark.
 * ARGV: kind, verification id, mark ttl s. Idempotent; marks the id refunded either way, so
 * a reservation that arrives after its refund is refused.
 */
export const refundScript = new LuaScript(
  'otp-refund',
  `
local was = redis.call('SET', KEYS[2], '0', 'EX', ARGV[3], 'GET')
if ARGV[1] == 's' then
  redis.call('ZREM', KEYS[1], ARGV[2])
elseif (ARGV[1] == 'f' or ARGV[1] == 'n') and was == '1' and (tonumber(redis.call('GET', KEYS[1])) or 0) > 0 then
  redis.call('DECR', KEYS[1])
elseif ARGV[1] == 'b' and was == 'p' then
  redis.call('HINCRBY', KEYS[1], 'passes', -1)
end
return 1
`,
  2,
);

/**
 * Redis Cluster only: the per-caller failed-verify check, on the caller's own slot, before
 * the phone's verify script (which then runs with the caller limit off).
 * KEYS: the caller's sorted set. ARGV: max, window ms, now ms.
 * Returns ms until a slot frees when full, else 0.
 */
export const callerCheckScript = new LuaScript(
  'otp-caller-check',
  `
local window, now = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
return 0
`,
  1,
);

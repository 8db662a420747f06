import { LuaScript } from './lua-script.js';

// Each script is one atomic step: Redis runs it without interleaving other commands, which
// is what makes "two concurrent verifies of one right code: exactly one succeeds" true.

/**
 * KEYS: code hash, cooldown string. ARGV: digest, verification id, ttl s, cooldown s.
 * Returns {1, 0} when issued, {0, ms left} while the cooldown runs.
 */
export const issueScript = new LuaScript(
  'otp-issue',
  `
local cooldown = tonumber(ARGV[4])
if cooldown > 0 then
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then return {0, left} end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'id', ARGV[2], 'a', 0)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if cooldown > 0 then redis.call('SET', KEYS[2], ARGV[2], 'EX', cooldown) end
return {1, 0}
`,
  2,
);

/**
 * KEYS: code hash. ARGV: digest, max attempts.
 * Returns {'verified', id} | {'invalid', attempts left, id} | {'expired'} | {'attempts_exceeded', id}.
 * A dead code (attempts used up) is kept until its TTL so the right code still fails.
 */
export const verifyScript = new LuaScript(
  'otp-verify',
  `
local rec = redis.call('HMGET', KEYS[1], 'd', 'id', 'a')
local stored = rec[1]
if not stored then return {'expired'} end
local max = tonumber(ARGV[2])
local attempts = tonumber(rec[3]) or 0
if attempts >= max then return {'attempts_exceeded', rec[2]} end
-- Constant-time comparison: every byte is visited whatever the first difference.
local given = ARGV[1]
local diff = 0
if #stored ~= #given then diff = 1 end
for i = 1, #given do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i) or 0, string.byte(given, i)))
end
if diff == 0 then
  redis.call('DEL', KEYS[1])
  return {'verified', rec[2]}
end
attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
return {'invalid', max - attempts, rec[2]}
`,
  1,
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
 * KEYS: code hash, cooldown. ARGV: verification id.
 * Undoes an issue whose job could not be enqueued, only if nothing newer replaced it.
 */
export const revokeScript = new LuaScript(
  'otp-revoke',
  `
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
`,
  2,
);

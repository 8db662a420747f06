import { LuaScript } from '../code-store/lua-script.js';
import { STATUS_RANK } from './verification-status.js';

// One script per write, so each transition is one atomic round trip: a report read and
// written by two webhook calls at once cannot interleave and step back.

const RANKS = `local rank = {${Object.entries(STATUS_RANK)
  .map(([status, value]) => `${status} = ${value}`)
  .join(', ')}}`;

// The record gets its 24 h lifetime when it is first written, wherever that write came from,
// and keeps it: a record lives 24 h from its start, not from its last report.
const KEEP_TTL = `if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end`;

/**
 * KEYS: record hash. ARGV: now ms, ttl s, masked phone, country, expires_at ms, request id, queued-at ms,
 * owner ('' = anyone may read it), E.164 phone (names the code key, for cancel), metadata JSON ('' = none).
 * Creates the record, or fills in a stub a fast worker wrote before this call arrived (the
 * job is enqueued first). Returns {'applied' | 'stale', previous status or ''}.
 */
export const queuedScript = new LuaScript(
  'status-queued',
  `
local previous = redis.call('HGET', KEYS[1], 'status')
redis.call('HSET', KEYS[1], 'phone', ARGV[3], 'country', ARGV[4], 'expires_at', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'request_id', ARGV[6]) end
if (ARGV[8] or '') ~= '' then redis.call('HSET', KEYS[1], 'owner', ARGV[8]) end
if (ARGV[9] or '') ~= '' then redis.call('HSET', KEYS[1], 'e164', ARGV[9]) end
if (ARGV[10] or '') ~= '' then redis.call('HSET', KEYS[1], 'metadata', ARGV[10]) end
local created = tonumber(redis.call('HGET', KEYS[1], 'created_at'))
if not created or created > tonumber(ARGV[7]) then redis.call('HSET', KEYS[1], 'created_at', ARGV[7]) end
redis.call('HSETNX', KEYS[1], 't:queued', ARGV[7])
redis.call('HSETNX', KEYS[1], 'attempts', 0)
if not previous then redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', ARGV[1]) end
${KEEP_TTL}
if previous then return {'stale', previous} end
return {'applied', ''}
`,
  1,
);

/**
 * KEYS: record hash, de-duplication key (a delivery report's (message_id, status); unused
 * when ARGV[8] is 0). ARGV: target status, now ms, ttl s, attempt or '', message id or '',
 * failure reason or '', failure code or '', dedupe ttl s (0 = none), '1' = only an existing record,
 * provider name or ''.
 * Returns {'applied' | 'stale' | 'duplicate' | 'missing', previous status or '', request id or ''}.
 */
export const advanceScript = new LuaScript(
  'status-advance',
  `
${RANKS}
local target, now = ARGV[1], ARGV[2]
if ARGV[9] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', '', ''} end
local previous = redis.call('HGET', KEYS[1], 'status')
local request_id = redis.call('HGET', KEYS[1], 'request_id') or ''
if tonumber(ARGV[8]) > 0 then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[8]) then return {'duplicate', previous or '', request_id} end
end
local changed = false
if not previous then
  -- A stub: the worker got the job before the API recorded 'queued'; that write fills it in.
  redis.call('HSET', KEYS[1], 'created_at', now)
  redis.call('HSETNX', KEYS[1], 'attempts', 0)
end
local applied = (not previous) or rank[target] > (rank[previous] or 0)
if applied then
  redis.call('HSET', KEYS[1], 'status', target)
  redis.call('HSETNX', KEYS[1], 't:' .. target, now)
  if target == 'failed' then
    redis.call('HSET', KEYS[1], 'failure_reason', ARGV[6], 'failure_code', ARGV[7])
  end
  -- The full number is kept only while a cancel could still need it to find the code.
  if target == 'verified' or target == 'canceled' then redis.call('HDEL', KEYS[1], 'e164') end
  changed = true
end
if ARGV[4] ~= '' and tonumber(ARGV[4]) > (tonumber(redis.call('HGET', KEYS[1], 'attempts')) or 0) then
  redis.call('HSET', KEYS[1], 'attempts', ARGV[4])
  changed = true
end
if ARGV[5] ~= '' then
  -- The worker's 'sent' names the message that counts; a report only fills a gap.
  if (applied and target == 'sent') or redis.call('HEXISTS', KEYS[1], 'message_id') == 0 then
    redis.call('HSET', KEYS[1], 'message_id', ARGV[5])
    if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'provider', ARGV[10]) end
    changed = true
  end
end
if changed then redis.call('HSET', KEYS[1], 'updated_at', now) end
${KEEP_TTL.replace('ARGV[2]', 'ARGV[3]')}
if applied then return {'applied', previous or '', request_id} end
return {'stale', previous, request_id}
`,
  2,
);

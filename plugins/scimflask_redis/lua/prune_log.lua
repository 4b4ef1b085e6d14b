-- Prune one tenant's provisioning log. KEYS[1] ids (lex), KEYS[2] ids by time, KEYS[3] entries,
-- KEYS[4] failures, KEYS[5] resource members, KEYS[6] hours with counters.
-- ARGV[1] entries to keep ('' no limit), ARGV[2] delete entries older than this µs ('' none),
-- ARGV[3] the key prefix of an hour's counters, ARGV[4] forget the counters of hours before
-- this one ('' none). Returns how many entries were deleted. Works in batches so no call gets
-- too many arguments. An hour's counter key is built here from ARGV[3]: it shares the
-- tenant's hash tag, so it is in the slot of KEYS.
local BATCH = 500
local deleted = 0

local function drop(ids)
  local members = {}
  for _, raw in ipairs(redis.call('HMGET', KEYS[3], unpack(ids))) do
    if raw then
      local member = cjson.decode(raw)['rk']
      if type(member) == 'string' then
        members[#members + 1] = member
      end
    end
  end
  if #members > 0 then
    redis.call('ZREM', KEYS[5], unpack(members))
  end
  deleted = deleted + redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('ZREM', KEYS[2], unpack(ids))
  redis.call('ZREM', KEYS[4], unpack(ids))
  redis.call('HDEL', KEYS[3], unpack(ids))
end

if ARGV[1] ~= '' then
  local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
  while excess > 0 do
    local ids = redis.call('ZRANGE', KEYS[1], 0, math.min(excess, BATCH) - 1)
    drop(ids)
    excess = excess - #ids
  end
end
if ARGV[2] ~= '' then
  while true do
    local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0, BATCH)
    if #ids == 0 then break end
    drop(ids)
  end
end
if ARGV[4] ~= '' then
  for _, hour in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[4])) do
    redis.call('DEL', ARGV[3] .. hour)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[4])
end
return deleted

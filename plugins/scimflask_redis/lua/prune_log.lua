-- Prune one tenant's provisioning log. KEYS[1] ids (lex), KEYS[2] ids by time, KEYS[3] entries,
-- KEYS[4] failures, KEYS[5] resource members, KEYS[6] hours with counters, KEYS[7] word members.
-- ARGV[1] entries to keep ('' no limit), ARGV[2] delete entries older than this µs ('' none),
-- ARGV[3] the key prefix of an hour's counters, ARGV[4] forget the counters of hours before
-- this one ('' none). Returns how many entries were deleted. Works in batches so no call gets
-- too many arguments. An hour's counter key is built here from ARGV[3]: it shares the
-- tenant's hash tag, so it is in the slot of KEYS. An entry's JSON names its `lg:r` member
-- (`rk`) and its words (`wk`, each the member `<word>\0<id>` of `lg:w`).
local BATCH = 500
local deleted = 0

local function remove(key, members)
  for first = 1, #members, BATCH do
    redis.call('ZREM', key, unpack(members, first, math.min(first + BATCH - 1, #members)))
  end
end

local function drop(ids)
  local members, words = {}, {}
  for n, raw in ipairs(redis.call('HMGET', KEYS[3], unpack(ids))) do
    if raw then
      local record = cjson.decode(raw)
      if type(record['rk']) == 'string' then
        members[#members + 1] = record['rk']
      end
      if type(record['wk']) == 'table' then
        for _, word in ipairs(record['wk']) do
          words[#words + 1] = word .. '\0' .. ids[n]
        end
      end
    end
  end
  remove(KEYS[5], members)
  remove(KEYS[7], words)
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

-- Prune one tenant's provisioning log. KEYS[1] ids (lex), KEYS[2] ids by time, KEYS[3] entries.
-- ARGV[1] entries to keep ('' no limit), ARGV[2] delete entries older than this µs ('' none).
-- Returns how many entries were deleted. Works in batches so no call gets too many arguments.
local BATCH = 500
local deleted = 0

local function drop(ids)
  deleted = deleted + redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('ZREM', KEYS[2], unpack(ids))
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
return deleted

-- Prune one tenant's provisioning log. KEYS[1] ids (lex), KEYS[2] ids by time, KEYS[3] entries,
-- KEYS[4] failures, KEYS[5] resource members, KEYS[6] hours with counters, KEYS[7] per-entry word
-- members, KEYS[8] identity members, KEYS[9] identity word members, KEYS[10] identity key ->
-- words. ARGV[1] entries to keep ('' no limit), ARGV[2] delete entries older than this µs ('' none),
-- ARGV[3] the key prefix of an hour's counters, ARGV[4] forget the counters of hours before
-- this one ('' none), ARGV[5] the most entries to delete ('' no limit). Returns how many entries
-- were deleted. Works in batches of at most BATCH, so no call gets too many arguments. An hour's
-- counter key is built here from ARGV[3]: it shares the tenant's hash tag, so it is in the slot
-- of KEYS. An entry's JSON names its `lg:r` member (`rk`) and either its identity key (`ik`: its
-- member of KEYS[8] is `<key>\0<id>`) or, stored before identity keys, its words (`wk`, each the
-- member `<word>\0<id>` of KEYS[7]). The words of an identity left without entries leave KEYS[9]
-- and KEYS[10] in the same batch.
local BATCH = 500
local deleted = 0
local most = ARGV[5] ~= '' and tonumber(ARGV[5]) or math.huge

local function remove(key, members)
  for first = 1, #members, BATCH do
    redis.call('ZREM', key, unpack(members, first, math.min(first + BATCH - 1, #members)))
  end
end

-- The words of the identities in `keys` that no entry names any more.
local function collect(keys)
  for key in pairs(keys) do
    if redis.call('ZLEXCOUNT', KEYS[8], '[' .. key .. '\0', '[' .. key .. '\0\255') == 0 then
      local words = redis.call('HGET', KEYS[10], key)
      if words then
        local members = {}
        for word in string.gmatch(words, '[^%z]+') do
          members[#members + 1] = word .. '\0' .. key
        end
        remove(KEYS[9], members)
        redis.call('HDEL', KEYS[10], key)
      end
    end
  end
end

local function drop(ids)
  local members, words, identities, keys = {}, {}, {}, {}
  for n, raw in ipairs(redis.call('HMGET', KEYS[3], unpack(ids))) do
    if raw then
      local record = cjson.decode(raw)
      if type(record['rk']) == 'string' then
        members[#members + 1] = record['rk']
      end
      if type(record['ik']) == 'string' then
        identities[#identities + 1] = record['ik'] .. '\0' .. ids[n]
        keys[record['ik']] = true
      elseif type(record['wk']) == 'table' then
        for _, word in ipairs(record['wk']) do
          words[#words + 1] = word .. '\0' .. ids[n]
        end
      end
    end
  end
  remove(KEYS[5], members)
  remove(KEYS[7], words)
  remove(KEYS[8], identities)
  collect(keys)
  deleted = deleted + redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('ZREM', KEYS[2], unpack(ids))
  redis.call('ZREM', KEYS[4], unpack(ids))
  redis.call('HDEL', KEYS[3], unpack(ids))
end

if ARGV[1] ~= '' then
  local excess = math.min(redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1]), most)
  while excess > 0 do
    local ids = redis.call('ZRANGE', KEYS[1], 0, math.min(excess, BATCH) - 1)
    drop(ids)
    excess = excess - #ids
  end
end
if ARGV[2] ~= '' then
  while deleted < most do
    local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0,
                           math.min(BATCH, most - deleted))
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

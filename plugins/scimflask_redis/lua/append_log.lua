-- Append entries to one tenant's provisioning log with their index members and hourly counts.
-- KEYS[1] ids (lex), KEYS[2] ids by time, KEYS[3] entries, KEYS[4] failures (lex),
-- KEYS[5] resource members (lex), KEYS[6] hours with counters, KEYS[7] per-entry word members
-- (lex, of entries stored before identity keys), KEYS[8] identity members (lex), KEYS[9]
-- identity word members (lex), KEYS[10] identity key -> words, KEYS[11..] one counter hash per
-- hour. ARGV[1] the number of entries, ARGV[2] '1' to re-index (write only entries still
-- stored, a pruned one stays gone, and take an entry stored with per-entry words out of
-- KEYS[7]), else '0'; ARGV[3] the entries, as fields each followed by a newline: per entry
-- its id, time (µs), '1' for a failure, its resource member ('' none), its identity key
-- ('' none), that identity's words separated by NUL ('' when an earlier entry of the call
-- already gave them) and its JSON; then per hour key its hour, the number of counters and
-- (name, increment) pairs. Returns the entries written.
--
-- An identity's words are added once, by the first entry that finds its key absent from
-- KEYS[10]; the others only add their identity member.
local count = tonumber(ARGV[1])
local reindex = ARGV[2] == '1'
local packed, from = ARGV[3], 1
local function field()
  local stop = string.find(packed, '\n', from, true)
  local value = string.sub(packed, from, stop - 1)
  from = stop + 1
  return value
end
local written = 0
local given = {}  -- identity key -> its words, as the call's first entry of it gave them
for _ = 1, count do
  local id, micros, failed, member = field(), field(), field(), field()
  local key, words, json = field(), field(), field()
  if words ~= '' then
    given[key] = words
  elseif key ~= '' then
    words = given[key] or ''
  end
  local stored = true
  if reindex then
    local old = redis.call('HGET', KEYS[3], id)
    stored = old ~= false
    if stored then
      local record = cjson.decode(old)
      if record['ik'] == nil and type(record['wk']) == 'table' and #record['wk'] > 0 then
        local members = {}
        for n, word in ipairs(record['wk']) do
          members[n] = word .. '\0' .. id
        end
        redis.call('ZREM', KEYS[7], unpack(members))
      end
    end
  end
  if stored then
    written = written + 1
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('ZADD', KEYS[2], micros, id)
    redis.call('HSET', KEYS[3], id, json)
    if failed == '1' then
      redis.call('ZADD', KEYS[4], 0, id)
    end
    if member ~= '' then
      redis.call('ZADD', KEYS[5], 0, member)
    end
    if key ~= '' then
      redis.call('ZADD', KEYS[8], 0, key .. '\0' .. id)
      if words ~= '' and redis.call('HSETNX', KEYS[10], key, words) == 1 then
        local scored = {}
        for word in string.gmatch(words, '[^%z]+') do
          scored[#scored + 1] = 0
          scored[#scored + 1] = word .. '\0' .. key
        end
        redis.call('ZADD', KEYS[9], unpack(scored))
      end
    end
  end
end
local at = 4
for key = 11, #KEYS do
  redis.call('ZADD', KEYS[6], ARGV[at], ARGV[at])
  local counters = tonumber(ARGV[at + 1])
  at = at + 2
  for _ = 1, counters do
    redis.call('HINCRBY', KEYS[key], ARGV[at], ARGV[at + 1])
    at = at + 2
  end
end
return written

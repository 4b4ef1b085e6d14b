-- Append entries to one tenant's provisioning log with their index members and hourly counts.
-- KEYS[1] ids (lex), KEYS[2] ids by time, KEYS[3] entries, KEYS[4] failures (lex),
-- KEYS[5] resource members (lex), KEYS[6] hours with counters, KEYS[7] word members (lex),
-- KEYS[8..] one counter hash per hour. ARGV[1] the number of entries, ARGV[2] '1' to re-index
-- (write only entries still stored: a pruned one stays gone), else '0'; per entry its id, time
-- (µs), JSON, '1' for a failure, its resource member ('' none) and its words separated by NUL
-- (each becomes the member `<word>\0<id>`; '' none); then per hour key its hour, the number of
-- counters and (name, increment) pairs. Returns the entries written.
local count = tonumber(ARGV[1])
local reindex = ARGV[2] == '1'
local at = 3
local written = 0
for _ = 1, count do
  local id = ARGV[at]
  local words = ARGV[at + 5]
  if reindex and redis.call('HEXISTS', KEYS[3], id) == 0 then
    at = at + 6
  else
    written = written + 1
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('ZADD', KEYS[2], ARGV[at + 1], id)
    redis.call('HSET', KEYS[3], id, ARGV[at + 2])
    if ARGV[at + 3] == '1' then
      redis.call('ZADD', KEYS[4], 0, id)
    end
    if ARGV[at + 4] ~= '' then
      redis.call('ZADD', KEYS[5], 0, ARGV[at + 4])
    end
    at = at + 6
    if words ~= '' then
      local scored = {}
      for word in string.gmatch(words, '[^%z]+') do
        scored[#scored + 1] = 0
        scored[#scored + 1] = word .. '\0' .. id
      end
      redis.call('ZADD', KEYS[7], unpack(scored))
    end
  end
end
for key = 8, #KEYS do
  redis.call('ZADD', KEYS[6], ARGV[at], ARGV[at])
  local counters = tonumber(ARGV[at + 1])
  at = at + 2
  for _ = 1, counters do
    redis.call('HINCRBY', KEYS[key], ARGV[at], ARGV[at + 1])
    at = at + 2
  end
end
return written

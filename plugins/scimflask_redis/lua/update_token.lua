-- Replace a token record's JSON if it is still what the caller read (compare-and-set), and
-- set or clear its last use. KEYS[1]: the token record hash.
-- ARGV[1] the JSON read, [2] the new JSON, [3] last use (µs) or '' for none.
-- Returns 1 done, 0 no such token, -1 changed meanwhile (the caller reads again).
local current = redis.call('HGET', KEYS[1], 'json')
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'json', ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'last_used')
else
  redis.call('HSET', KEYS[1], 'last_used', ARGV[3])
end
return 1

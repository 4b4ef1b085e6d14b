-- Store a token record, replacing any record of the same id, with its lookup entries.
-- KEYS[1] the record hash, KEYS[2] secret hash -> id, KEYS[3] ids by creation.
-- ARGV[1] id, [2] secret hash, [3] the record JSON, [4] created (µs), [5] last use (µs) or ''.
local old = redis.call('HGET', KEYS[1], 'secret_hash')
if old and old ~= ARGV[2] and redis.call('HGET', KEYS[2], old) == ARGV[1] then
  redis.call('HDEL', KEYS[2], old)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'secret_hash', ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'last_used', ARGV[5]) end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1

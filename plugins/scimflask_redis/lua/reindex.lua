-- Replace one resource's data index entries and trigrams, if it still has the version they were
-- computed from (else the caller reads it again). KEYS[1]: its resource key.
-- ARGV[3] id, [4] the version read, [5] its data entries now, [6] its trigrams now (an old
-- resource has none stored yet). Returns 1 done, 0 skipped.
local key, id = KEYS[1], ARGV[3]
if redis.call('HGET', key, 'v') ~= ARGV[4] then return 0 end
apply_entries(redis.call('HGET', key, 'x'), id, false)
apply_entries(ARGV[5], id, true)
rewrite_trigrams(key, id, redis.call('HGET', key, 'xt'), ARGV[6])
redis.call('HSET', key, 'x', ARGV[5], 'xt', ARGV[6])
return 1

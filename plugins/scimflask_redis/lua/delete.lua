-- Delete one resource, its index entries and every membership row naming it.
-- KEYS[1]: its resource key. ARGV[3] id, [4] expected version ('' any).
local key, id = KEYS[1], ARGV[3]
local failed = check_version(key, ARGV[4])
if failed then return failed end
local stored = redis.call('HMGET', key, 'x', 'xm', 'xc', 'xt')
for i = 1, 3 do apply_entries(stored[i], id, false) end
drop_trigrams(key, id, stored[4])
for _, mid in ipairs(redis.call('HKEYS', GROUP_MEMBERS .. id)) do
  redis.call('SREM', MEMBER_GROUPS .. mid, id)
end
for _, gid in ipairs(redis.call('SMEMBERS', MEMBER_GROUPS .. id)) do
  redis.call('HDEL', GROUP_MEMBERS .. gid, id)
end
redis.call('DEL', key, GROUP_MEMBERS .. id, MEMBER_GROUPS .. id)
return {'ok'}

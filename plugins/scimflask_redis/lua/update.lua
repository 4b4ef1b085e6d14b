-- Update one resource (compare-and-set on its version). KEYS[1]: its resource key.
-- ARGV[3] id, [4] expected version ('' any), [5] lastModified, [6] lastModified entries,
-- [7] '1' if data is replaced, [8] data JSON, [9] data entries,
-- [10] '1' if members are replaced, [11] members to add (or the new list), [12] ids to remove,
-- [13] '1' to check members, [14] trigrams of the new data (see common.lua).
local key, id = KEYS[1], ARGV[3]
local failed = check_version(key, ARGV[4])
if failed then return failed end
local has_data, replacing = ARGV[7] == '1', ARGV[10] == '1'
if has_data then
  local taken = unique_conflict(ARGV[9], id)
  if taken then return {'conflict', taken} end
end
local members, unknown = resolve_members(ARGV[11], ARGV[13] == '1')
if #unknown > 1 then return unknown end

if has_data then
  rewrite_entries(redis.call('HGET', key, 'x'), ARGV[9], id)
  rewrite_trigrams(key, id, redis.call('HGET', key, 'xt'), ARGV[14])
  redis.call('HSET', key, 'd', ARGV[8], 'x', ARGV[9], 'xt', ARGV[14])
end
rewrite_entries(redis.call('HGET', key, 'xm'), ARGV[6], id)
local version = redis.call('HINCRBY', key, 'v', 1)
redis.call('HSET', key, 'm', ARGV[5], 'xm', ARGV[6])

if replacing then
  local wanted = {}
  for i = 1, #members, 3 do wanted[members[i]] = true end
  for _, mid in ipairs(redis.call('HKEYS', GROUP_MEMBERS .. id)) do
    if not wanted[mid] then remove_member(id, mid) end
  end
else
  for _, mid in ipairs(unpack_list(ARGV[12])) do remove_member(id, mid) end
end
add_members(key, id, members)
local stored = redis.call('HMGET', key, 'c', 'd')
return {'ok', tostring(version), stored[1], stored[2]}

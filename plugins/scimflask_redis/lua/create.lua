-- Create one resource. KEYS[1]: its resource key.
-- ARGV[3] id, [4] created, [5] lastModified, [6] data JSON, [7] data entries,
-- [8] lastModified entries, [9] created entries, [10] members, [11] '1' to check members,
-- [12] the type's prefix-index ready marker, [13] its signature, [14] the type's created index,
-- [15] the type's trigram-index ready marker, [16] its signature: the first resource of a type
-- marks its (then complete) prefix and trigram indexes ready; [17] trigrams (see common.lua).
local key, id = KEYS[1], ARGV[3]
if redis.call('EXISTS', key) == 1 then return {'conflict', 'id'} end
local taken = unique_conflict(ARGV[7], id)
if taken then return {'conflict', taken} end
local members, unknown = resolve_members(ARGV[10], ARGV[11] == '1')
if #unknown > 1 then return unknown end

if ARGV[14] ~= '' and redis.call('ZCARD', base .. ARGV[14]) == 0 then
  if ARGV[12] ~= '' then redis.call('SET', base .. ARGV[12], ARGV[13]) end
  if ARGV[15] ~= '' then redis.call('SET', base .. ARGV[15], ARGV[16]) end
end
redis.call('HSET', key, 'v', '1', 'c', ARGV[4], 'm', ARGV[5], 'd', ARGV[6],
           'x', ARGV[7], 'xm', ARGV[8], 'xc', ARGV[9], 'xt', ARGV[17])
apply_entries(ARGV[7], id, true)
if ARGV[17] ~= '' then apply_trigrams(ARGV[17], number_of(key, id), true) end
apply_entries(ARGV[8], id, true)
apply_entries(ARGV[9], id, true)
add_members(key, id, members)
return {'ok', pack_list(members)}

-- Shared by every write script (scripts.py prepends it).
-- ARGV[1]: the tenant's key base; ARGV[2]: packed layout
--   {group->members prefix, member->groups prefix, trigram numbers hash, type1,
--    type1 resource prefix, type2, ...}.
-- Every key a script touches is the base plus a suffix, so all of them carry the tenant's
-- hash tag and live in KEYS[1]'s Cluster slot.
-- Lists cross the Lua boundary "packed": each item as "<byte length>:<bytes>", which is
-- binary-safe and needs no JSON library.

local function unpack_list(packed)
  local out, i = {}, 1
  while i <= #packed do
    local colon = string.find(packed, ':', i, true)
    local n = tonumber(string.sub(packed, i, colon - 1))
    out[#out + 1] = string.sub(packed, colon + 1, colon + n)
    i = colon + n + 1
  end
  return out
end

local function pack_list(items)
  local parts = {}
  for i = 1, #items do
    parts[i] = #items[i] .. ':' .. items[i]
  end
  return table.concat(parts)
end

local base = ARGV[1]
local layout = unpack_list(ARGV[2])
local GROUP_MEMBERS, MEMBER_GROUPS = base .. layout[1], base .. layout[2]
local NUMBERS = base .. layout[3]
local FIRST_TYPE = 4  -- where the (type, resource prefix) pairs of the layout start

-- Index entries come in fours: kind ('u' unique hash, 's' set, 'z' ordered set), key suffix,
-- member or field, attribute name.
local function apply_entry(kind, key, item, id, adding)
  if kind == 'u' then
    if adding then
      redis.call('HSET', key, item, id)
    elseif redis.call('HGET', key, item) == id then
      redis.call('HDEL', key, item)
    end
  elseif kind == 's' then
    if adding then redis.call('SADD', key, id) else redis.call('SREM', key, id) end
  else
    if adding then redis.call('ZADD', key, 0, item) else redis.call('ZREM', key, item) end
  end
end

local function apply_entries(packed, id, adding)
  local e = unpack_list(packed or '')
  for i = 1, #e, 4 do apply_entry(e[i], base .. e[i + 1], e[i + 2], id, adding) end
end

-- From the entries `old` to the entries `new` of resource `id`, touching only those that
-- differ: an update of one attribute costs that attribute's entries, not every entry twice.
-- (Before, `new` must have passed `unique_conflict`: a unique field both hold is already id's.)
local function rewrite_entries(old, new, id)
  if old == new then return end
  local before, after = unpack_list(old or ''), unpack_list(new or '')
  local function name(e, i) return e[i] .. '\0' .. e[i + 1] .. '\0' .. e[i + 2] end
  local function names(e)
    local found = {}
    for i = 1, #e, 4 do found[name(e, i)] = true end
    return found
  end
  local was, is = names(before), names(after)
  for i = 1, #before, 4 do
    if not is[name(before, i)] then apply_entry(before[i], base .. before[i + 1], before[i + 2], id, false) end
  end
  for i = 1, #after, 4 do
    if not was[name(after, i)] then apply_entry(after[i], base .. after[i + 1], after[i + 2], id, true) end
  end
end

-- A resource's trigrams (`xt`): pairs of trigram key prefix and packed trigrams; each trigram
-- names the set prefix .. trigram that holds the ids of the resources whose values contain it.
local function trigram_keys(packed)
  local found, e = {}, unpack_list(packed or '')
  for i = 1, #e, 2 do
    local prefix = base .. e[i]
    for _, gram in ipairs(unpack_list(e[i + 1])) do found[prefix .. gram] = true end
  end
  return found
end

local function apply_trigrams(packed, id, adding)
  local command = adding and 'SADD' or 'SREM'
  for key in pairs(trigram_keys(packed)) do redis.call(command, key, id) end
end

-- The trigram sets hold a resource by its number (`xn`, given on its first trigrams and never
-- reused; NUMBERS maps it back to the id): short members keep the sets small. Data written
-- before the numbers is held by its id until it is rewritten (`rewrite_trigrams`).
local function number_of(key, id)
  local n = redis.call('HGET', key, 'xn')
  if not n then
    n = tostring(redis.call('HINCRBY', NUMBERS, 'n', 1))
    redis.call('HSET', NUMBERS, n, id)
    redis.call('HSET', key, 'xn', n)
  end
  return n
end

-- Only the sets that differ are written: an update usually keeps most trigrams, and each
-- write is replicated. A resource still held by its id moves to its number.
local function rewrite_trigrams(key, id, old, new)
  local n = redis.call('HGET', key, 'xn')
  if not n then
    apply_trigrams(old, id, false)
    if new and new ~= '' then apply_trigrams(new, number_of(key, id), true) end
    return
  end
  if old == new then return end  -- no indexed value changed
  local before, after = trigram_keys(old), trigram_keys(new)
  for set in pairs(before) do
    if not after[set] then redis.call('SREM', set, n) end
  end
  for set in pairs(after) do
    if not before[set] then redis.call('SADD', set, n) end
  end
end

-- The ids of the resources numbered `numbers` (those still there), in that order.
local function numbered_ids(numbers)
  local ids = {}
  for at = 1, #numbers, 1000 do
    local chunk = {}
    for i = at, math.min(at + 999, #numbers) do chunk[#chunk + 1] = numbers[i] end
    for _, id in ipairs(redis.call('HMGET', NUMBERS, (unpack or table.unpack)(chunk))) do
      if id then ids[#ids + 1] = id end
    end
  end
  return ids
end

-- A deleted resource leaves its trigram sets and its number.
local function drop_trigrams(key, id, packed)
  local n = redis.call('HGET', key, 'xn')
  apply_trigrams(packed, n or id, false)
  if n then redis.call('HDEL', NUMBERS, n) end
end

-- The attribute name of the first unique entry owned by another resource, or nil.
local function unique_conflict(packed, id)
  local e = unpack_list(packed)
  for i = 1, #e, 4 do
    if e[i] == 'u' then
      local owner = redis.call('HGET', base .. e[i + 1], e[i + 2])
      if owner and owner ~= id then return e[i + 3] end
    end
  end
  return nil
end

-- Members come in threes: id, type ('' unknown), display (flag '0' none / '1' + text).
-- When checking, each id must name a resource of the tenant and takes that resource's type.
local function resolve_members(packed, check)
  local m, unknown = unpack_list(packed), {'unknown'}
  if check then
    for i = 1, #m, 3 do
      local found = nil
      for j = FIRST_TYPE, #layout, 2 do
        if redis.call('EXISTS', base .. layout[j + 1] .. m[i]) == 1 then
          found = layout[j]
          break
        end
      end
      if found then m[i + 1] = found else unknown[#unknown + 1] = m[i] end
    end
  end
  return m, unknown
end

-- Adding a present member keeps the stored row; a per-group counter keeps insertion order.
local function add_members(group_key, gid, m)
  for i = 1, #m, 3 do
    if redis.call('HEXISTS', GROUP_MEMBERS .. gid, m[i]) == 0 then
      local seq = redis.call('HINCRBY', group_key, 'ms', 1)
      redis.call('HSET', GROUP_MEMBERS .. gid, m[i], pack_list({tostring(seq), m[i + 1], m[i + 2]}))
      redis.call('SADD', MEMBER_GROUPS .. m[i], gid)
    end
  end
end

local function remove_member(gid, mid)
  redis.call('HDEL', GROUP_MEMBERS .. gid, mid)
  redis.call('SREM', MEMBER_GROUPS .. mid, gid)
end

local function check_version(key, expected)
  if redis.call('EXISTS', key) == 0 then return {'notfound'} end
  local version = redis.call('HGET', key, 'v')
  if expected ~= '' and expected ~= version then return {'precondition', version} end
  return nil
end

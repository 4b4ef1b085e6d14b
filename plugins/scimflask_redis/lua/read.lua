-- Read resources of one tenant in ONE round trip: resolve an index plan to ids, load the
-- records and attach memberships (common.lua is prepended for its helpers; nothing is written).
-- KEYS[1]: a key of the tenant (routes the call in a Cluster).
-- ARGV[3] the type's resource key prefix; [4] packed resource key prefixes of the types that
--   have members (where group names are looked up);
-- [5] the plan, packed fours in postfix order. Leaves: 'ids' (a = the id), 'unique' (HGET key a),
--   'set' (SMEMBERS key), 'hash' (HKEYS key), 'range' (ZRANGEBYLEX key a b, ids after the
--   separator), 'lrange' (the same on a prefix index), 'grams' (SINTER of the trigram sets
--   key .. g for each g of the packed a: resource numbers, mapped to ids); combinators: '&' (the smaller side, by index size)
--   and '|' (the union). A leaf's size is an upper bound of its ids: SCARD / HLEN / ZLEXCOUNT,
--   the smallest SCARD for 'grams' (exact when intersected, see INTERSECT_UP_TO); unbounded for an 'lrange' or 'grams' leaf whose index is
--   not ready (so '&' takes the other side, and '|' or a lone leaf answers 'many');
-- [6] candidate limit: a plan whose bound exceeds it answers
--   {'many', bound (-1 unbounded), ZCARD of [21] (-1 when [21] is '')} before reading any id;
-- [7] mode: 'load' every candidate's record;
--   'page': the candidates are exactly the matches: order them by [8] ('c' / 'm', to the
--   millisecond, as the reference compares the formatted timestamps; ties by id), [9] '1'
--   descending, keep [10] start (0-based) .. [11] count, or [11] after the position
--   ([17] milliseconds, [18] id) when [17] is not '', and load only those;
--   'rank': no plan: the page of the ordered index [8] ([9] '1' for the descending one) from
--   rank [10], [11] entries, or after the ZRANGEBYLEX bound [17] when it is not '';
-- [12] '1' attach members, [13] '1' attach groups, [14] attach only if at most this many records;
-- [15] the prefix indexes' ready marker, that must hold [16] for 'lrange' leaves;
-- [19] the trigram indexes' ready marker, that must hold [20] for 'grams' leaves;
-- [21] the type's created index (its size comes with 'many', for the caller's scan bound).
-- Reply: {'ok', total, attached '1'/'0', {record...}, {group id, group data, ...}, more '1'/'0'},
--   record = {id, v, c, m, d, member rows {id, row, ...} or nil, group ids or nil}.

local rprefix = base .. ARGV[3]
local mode = ARGV[7]
-- A 'grams' leaf's smallest set is only an upper bound of its matches: past the candidate
-- limit but at most this size, the sets are intersected while planning (about the smallest set
-- x the sets: a few ms at most) and the leaf's size is exact. A digit trigram's set holds some
-- thousands of a million users while the pattern matches one, which the bound alone sent to a
-- scan of the whole type.
local INTERSECT_UP_TO = 20000
local ASC, DESC = '\0\0', '\255\255'

local gates = {lrange = {ARGV[15], ARGV[16]}, grams = {ARGV[19], ARGV[20]}}
local function ready(kind)
  local gate = gates[kind]
  if gate.ok == nil then
    gate.ok = gate[1] ~= '' and redis.call('GET', base .. gate[1]) == gate[2]
  end
  return gate.ok
end

local function id_of(entry, sep)
  local at = string.find(entry, sep, 1, true)
  return string.sub(entry, at + #sep)
end

-- Byte order (= code point order of UTF-8), whatever the server's collation locale.
local function bytes_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function load(id)
  local row = redis.call('HMGET', rprefix .. id, 'v', 'c', 'm', 'd')
  if not row[1] or not row[4] then return nil end
  return {id, row[1], row[2], row[3], row[4], false, false}
end

local ids, seen = {}, {}
local function add(id)
  if not seen[id] then
    seen[id] = true
    ids[#ids + 1] = id
  end
end

if mode ~= 'rank' then
  local plan, stack = unpack_list(ARGV[5]), {}
  for i = 1, #plan, 4 do
    local kind = plan[i]
    if kind == '&' or kind == '|' then
      local right = table.remove(stack)
      local left = table.remove(stack)
      stack[#stack + 1] = {op = kind, left = left, right = right}
    else
      local leaf = {kind = kind, key = base .. plan[i + 1], a = plan[i + 2], b = plan[i + 3]}
      if (kind == 'lrange' or kind == 'grams') and not ready(kind) then
        leaf.size = math.huge
      elseif kind == 'grams' then
        leaf.keys = {}
        for _, gram in ipairs(unpack_list(leaf.a)) do
          local set = leaf.key .. gram
          local n = redis.call('SCARD', set)
          if leaf.size == nil or n < leaf.size then leaf.size = n end
          leaf.keys[#leaf.keys + 1] = set
        end
        leaf.size = leaf.size or math.huge
        if leaf.size > tonumber(ARGV[6]) and leaf.size <= INTERSECT_UP_TO then
          leaf.numbers = redis.call('SINTER', (unpack or table.unpack)(leaf.keys))
          leaf.size = #leaf.numbers
        end
      elseif kind == 'ids' then
        leaf.size = 1
      elseif kind == 'unique' then
        leaf.id = redis.call('HGET', leaf.key, leaf.a)
        leaf.size = leaf.id and 1 or 0
      elseif kind == 'set' then
        leaf.size = redis.call('SCARD', leaf.key)
      elseif kind == 'hash' then
        leaf.size = redis.call('HLEN', leaf.key)
      else
        leaf.size = redis.call('ZLEXCOUNT', leaf.key, leaf.a, leaf.b)
      end
      stack[#stack + 1] = leaf
    end
  end

  local function size(node)
    if node.size == nil then
      local l, r = size(node.left), size(node.right)
      if node.op == '&' then node.size = math.min(l, r) else node.size = l + r end
    end
    return node.size
  end

  local function collect(node)
    if node.op == '&' then
      if size(node.left) <= size(node.right) then collect(node.left) else collect(node.right) end
    elseif node.op == '|' then
      collect(node.left)
      collect(node.right)
    elseif node.kind == 'ids' then
      add(node.a)
    elseif node.kind == 'unique' then
      if node.id then add(node.id) end
    elseif node.kind == 'set' then
      for _, id in ipairs(redis.call('SMEMBERS', node.key)) do add(id) end
    elseif node.kind == 'hash' then
      for _, id in ipairs(redis.call('HKEYS', node.key)) do add(id) end
    elseif node.kind == 'grams' then
      if node.size > 0 then
        local numbers = node.numbers or redis.call('SINTER', (unpack or table.unpack)(node.keys))
        for _, id in ipairs(numbered_ids(numbers)) do add(id) end
      end
    else
      for _, entry in ipairs(redis.call('ZRANGEBYLEX', node.key, node.a, node.b)) do add(id_of(entry, ASC)) end
    end
  end

  local root = stack[1]
  local bound = size(root)
  if bound > tonumber(ARGV[6]) then
    local count = ARGV[21] ~= '' and redis.call('ZCARD', base .. ARGV[21]) or -1
    return {'many', bound == math.huge and -1 or bound, count}
  end
  collect(root)
end

local records, total, more = {}, 0, false
if mode == 'load' then
  for _, id in ipairs(ids) do
    local record = load(id)
    if record then records[#records + 1] = record end
  end
  total = #records
elseif mode == 'page' then
  local field, desc = ARGV[8], ARGV[9] == '1'
  local start, count = tonumber(ARGV[10]), tonumber(ARGV[11])
  local rows = {}
  for _, id in ipairs(ids) do
    local t = redis.call('HGET', rprefix .. id, field)
    if t then rows[#rows + 1] = {math.floor(tonumber(t) / 1000), id} end
  end
  table.sort(rows, function(x, y)
    if x[1] ~= y[1] then
      if desc then return x[1] > y[1] end
      return x[1] < y[1]
    end
    return bytes_less(x[2], y[2])
  end)
  total = #rows
  if ARGV[17] ~= '' then
    local ms, id = tonumber(ARGV[17]), ARGV[18]
    start = total
    for i = 1, total do
      local row = rows[i]
      local later
      if row[1] == ms then later = bytes_less(id, row[2])
      elseif desc then later = row[1] < ms
      else later = row[1] > ms end
      if later then
        start = i - 1
        break
      end
    end
  end
  for i = start + 1, math.min(start + count, total) do
    local record = load(rows[i][2])
    if record then records[#records + 1] = record end
  end
  more = start + count < total
else
  local key = base .. ARGV[8]
  local sep = (ARGV[9] == '1') and DESC or ASC
  local start, count = tonumber(ARGV[10]), tonumber(ARGV[11])
  total = redis.call('ZCARD', key)
  if count > 0 then
    local entries
    if ARGV[17] ~= '' then
      entries = redis.call('ZRANGEBYLEX', key, ARGV[17], '+', 'LIMIT', 0, count + 1)
      more = #entries > count
    else
      entries = redis.call('ZRANGE', key, start, start + count - 1)
      more = start + #entries < total
    end
    for i = 1, math.min(#entries, count) do
      local record = load(id_of(entries[i], sep))
      if record then records[#records + 1] = record end
    end
  end
end

local attached = #records <= tonumber(ARGV[14])
local names = {}
if attached and (ARGV[12] == '1' or ARGV[13] == '1') then
  local member_prefixes, named = unpack_list(ARGV[4]), {}
  for _, record in ipairs(records) do
    if ARGV[12] == '1' then record[6] = redis.call('HGETALL', GROUP_MEMBERS .. record[1]) end
    if ARGV[13] == '1' then
      local gids = redis.call('SMEMBERS', MEMBER_GROUPS .. record[1])
      record[7] = gids
      for _, gid in ipairs(gids) do
        if not named[gid] then
          named[gid] = true
          for _, p in ipairs(member_prefixes) do
            local data = redis.call('HGET', base .. p .. gid, 'd')
            if data then
              names[#names + 1] = gid
              names[#names + 1] = data
              break
            end
          end
        end
      end
    end
  end
end
return {'ok', total, attached and '1' or '0', records, names, more and '1' or '0'}

-- Delete a token record and its lookup entries. KEYS as add_token.lua; ARGV[1] the id.
-- Returns 1 deleted, 0 no such token.
local secret = redis.call('HGET', KEYS[1], 'secret_hash')
if not secret then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], secret) == ARGV[1] then redis.call('HDEL', KEYS[2], secret) end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1

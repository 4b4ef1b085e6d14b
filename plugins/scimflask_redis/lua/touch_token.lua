-- Record a token's last use, unless the token was deleted meanwhile.
-- KEYS[1]: the token record hash; ARGV[1]: when (µs since the epoch).
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
end
return 0

-- Append entries to one tenant's provisioning log. KEYS[1] ids (lex), KEYS[2] ids by time,
-- KEYS[3] entries. ARGV: per entry its id, time (µs) and JSON. Returns the entries written.
for i = 1, #ARGV, 3 do
  redis.call('ZADD', KEYS[1], 0, ARGV[i])
  redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
end
return #ARGV / 3

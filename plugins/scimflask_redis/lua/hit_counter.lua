-- Count one hit in a fixed window. KEYS[1]: the window's counter; ARGV[1]: its lifetime (s).
-- INCR and EXPIRE together, so no counter is ever left without an expiry.
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count

-- Lists a member in the sorted set of each of its recorded terms with a score,
-- or, with no score, takes it out of all of them.
-- KEYS[1] the set of the member's terms
-- ARGV[1] the key prefix of the per-term sorted sets, ARGV[2] the member, ARGV[3] score (optional)
local member = ARGV[2]
for _, term in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if ARGV[3] then
    redis.call('ZADD', ARGV[1] .. term, ARGV[3], member)
  else
    redis.call('ZREM', ARGV[1] .. term, member)
  end
end
return 1

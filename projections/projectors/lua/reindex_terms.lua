-- Records the terms (tags, words) a member is listed under, and keeps the per-term
-- sorted sets in step: the member leaves the sets of terms it lost and, when it is
-- listed at all (it has a score in KEYS[2]), joins the sets of its terms with that score.
-- KEYS[1] the set of the member's current terms, KEYS[2] the sorted set that lists it
-- ARGV[1] the key prefix of the per-term sorted sets, ARGV[2] the member, ARGV[3..] terms
local member = ARGV[2]
local score = redis.call('ZSCORE', KEYS[2], member)
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
for _, term in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not keep[term] then redis.call('ZREM', ARGV[1] .. term, member) end
end
redis.call('DEL', KEYS[1])
if #ARGV >= 3 then
  -- In chunks: Lua's unpack takes at most ~8000 values, and a long post has more words.
  for first = 3, #ARGV, 1000 do
    redis.call('SADD', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
  if score then
    for i = 3, #ARGV do redis.call('ZADD', ARGV[1] .. ARGV[i], score, member) end
  end
end
return 1

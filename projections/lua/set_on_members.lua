-- Fans one change out to many hashes: for each id in a set, sets fields on prefix..id.
-- An empty string value deletes the field (Redis has no null).
-- KEYS[1] a set of ids
-- ARGV[1] the key prefix of the hashes, ARGV[2..] field, value, field, value, ...
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  for i = 2, #ARGV, 2 do
    if ARGV[i + 1] == '' then
      redis.call('HDEL', key, ARGV[i])
    else
      redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    end
  end
end
return #ids

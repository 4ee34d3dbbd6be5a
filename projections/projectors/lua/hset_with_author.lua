-- Writes fields into a hash and copies the author's current name and avatar next to them.
-- It runs inside the projector's MULTI, so it sees the author as of the same position.
-- KEYS[1] the hash to write, KEYS[2] the author hash (fields name, avatarUrl)
-- ARGV    field, value, field, value, ...
redis.call('HSET', KEYS[1], unpack(ARGV))
local author = redis.call('HMGET', KEYS[2], 'name', 'avatarUrl')
if author[1] then
  redis.call('HSET', KEYS[1], 'authorName', author[1])
end
if author[2] then
  redis.call('HSET', KEYS[1], 'authorAvatarUrl', author[2])
else
  redis.call('HDEL', KEYS[1], 'authorAvatarUrl')
end
return 1

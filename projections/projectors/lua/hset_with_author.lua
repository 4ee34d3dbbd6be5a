-- Writes fields into a hash and copies the author's current name and avatar next to them.
-- It runs inside the projector's MULTI, so it sees the author as of the same position.
-- The author's fields join the caller's in one HSET: each redis.call costs a script
-- some 4 µs of Redis CPU, more than the write itself, and this script runs for every
-- post and comment written (docs/benchmarks.md, the rebuild).
-- KEYS[1] the hash to write, KEYS[2] the author hash (fields name, avatarUrl)
-- ARGV    field, value, field, value, ...
local author = redis.call('HMGET', KEYS[2], 'name', 'avatarUrl')
local n = #ARGV
if author[1] then
  ARGV[n + 1], ARGV[n + 2], n = 'authorName', author[1], n + 2
end
if author[2] then
  ARGV[n + 1], ARGV[n + 2] = 'authorAvatarUrl', author[2]
end
redis.call('HSET', KEYS[1], unpack(ARGV))
if not author[2] then
  redis.call('HDEL', KEYS[1], 'authorAvatarUrl')
end
return 1

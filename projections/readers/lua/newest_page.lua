#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (CLIENT PAUSE WRITE during a
-- failover, a read-only replica, memory full, a failed snapshot).
-- A page of a newest-first sorted set of posts and those posts' hashes, in one round trip.
-- KEYS[1]: the sorted set. ARGV: the post hash prefix, the cursor's score and member (both
-- '' for the first page), how many items to return (first), and one more to look for.
-- Returns {total, {member, score, ...} up to first + 1 items, {hash fields, ...} per item
-- up to first}. Past the cursor means a lower score, or the same score and a lower member,
-- as pagination.Position orders them; members sharing the cursor's score are read past.
local key, prefix = KEYS[1], ARGV[1]
local after_score, after_member = ARGV[2], ARGV[3]
local first = tonumber(ARGV[4])
local wanted = first + 1
local top = after_member == '' and '+inf' or after_score
local items = {}
local offset = 0
while true do
  local batch = redis.call('ZREVRANGEBYSCORE', key, top, '-inf', 'WITHSCORES', 'LIMIT', offset, wanted)
  for i = 1, #batch, 2 do
    local member, score = batch[i], batch[i + 1]
    if #items < 2 * wanted and (after_member == '' or tonumber(score) < tonumber(after_score)
        or member < after_member) then
      items[#items + 1] = member
      items[#items + 1] = score
    end
  end
  if #items >= 2 * wanted or #batch < 2 * wanted then break end
  offset = offset + #batch / 2
end
local hashes = {}
for i = 1, math.min(#items / 2, first) do
  hashes[i] = redis.call('HGETALL', prefix .. items[2 * i - 1])
end
return {redis.call('ZCARD', key), items, hashes}

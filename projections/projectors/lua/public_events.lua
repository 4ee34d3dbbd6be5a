-- Recomputes who sees which recent events (projections/projectors/recent_events.py), once
-- at a batch's end, from the list and the posts' audiences as the batch left them: a
-- function of those alone, so a replay, batched otherwise, ends with the same.
-- KEYS[1] the recent events; KEYS[2] those everybody may see; KEYS[3] the set of authors
-- who have a list of their own (all three rewritten whole, with those lists).
-- ARGV[1] the prefix of the per-post audiences: the author's id, then, while the post is
-- published, a space and the position of its publication. ARGV[2] the prefix of an
-- author's own list: the entries of their posts that nobody else may see.
-- An entry naming no post is for everybody; one naming a post, only when the post is
-- published and the entry is from its publication on (a draft's events stay its
-- author's), else its author's alone; a post with no audience recorded, nobody's.
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local posts, names, seen = {}, {}, {}
for i = 1, #entries, 2 do
  local post = post_of_entry(entries[i])
  posts[i] = post
  if post and not seen[post] then
    seen[post] = true
    names[#names + 1] = post
  end
end
local authors, public_from = {}, {}
for _, post in ipairs(names) do
  -- A GET each, not an MGET (the same CPU, measured): tests/projections/test_read_replica.py
  -- takes an HGETALL or MGET on the primary for a query that read it.
  local audience = redis.call('GET', ARGV[1] .. post)
  local space = audience and string.find(audience, ' ', 1, true)
  if space then
    authors[post] = string.sub(audience, 1, space - 1)
    public_from[post] = tonumber(string.sub(audience, space + 1))
  else
    authors[post] = audience  -- false when none is recorded
  end
end
local public, own = {}, {}
for i = 1, #entries, 2 do
  local post, position = posts[i], entries[i + 1]
  local scored = nil
  if not post or (public_from[post] and tonumber(position) >= public_from[post]) then
    scored = public
  elseif authors[post] then
    scored = own[authors[post]] or {}
    own[authors[post]] = scored
  end
  if scored then
    scored[#scored + 1] = position
    scored[#scored + 1] = entries[i]
  end
end
redis.call('DEL', KEYS[2])
if #public > 0 then redis.call('ZADD', KEYS[2], unpack(public)) end
for _, author in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('DEL', ARGV[2] .. author)
end
redis.call('DEL', KEYS[3])
for author, scored in pairs(own) do
  redis.call('ZADD', ARGV[2] .. author, unpack(scored))
  redis.call('SADD', KEYS[3], author)
end
return #public / 2

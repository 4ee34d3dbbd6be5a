#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (CLIENT PAUSE WRITE during a
-- failover, a read-only replica, memory full, a failed snapshot).
-- The newest recent events one viewer may see, newest first, in one round trip: hidden
-- entries are read past, so `first` visible ones come back whenever the list holds them.
-- KEYS[1]: the recent events (entries scored by position). ARGV: the prefix of the
-- per-post audience strings (projections/projectors/recent_events.py: the author's id,
-- then a space and the position of the publication while the post is published), the
-- viewer's id ('' when anonymous), how many entries to return.
-- An entry naming a post is shown to the post's author, and to others when the post is
-- published now and the entry is from its publication on; a post this projection has no
-- record of shows to nobody. An entry naming no post shows to everybody. The entries are
-- read a chunk at a time, with one MGET for the audiences of the chunk's posts.
local key, prefix, viewer = KEYS[1], ARGV[1], ARGV[2]
local first = tonumber(ARGV[3])
local chunk = math.max(first, 20)
local shown = {}
local authors, public_from = {}, {}
local offset = 0
while #shown < first do
  local batch = redis.call('ZREVRANGE', key, offset, offset + chunk - 1, 'WITHSCORES')
  local posts, unknown, names = {}, {}, {}
  for i = 1, #batch, 2 do
    -- Ids are the server's UUIDs, written by orjson: no quote or escape inside. Plain
    -- finds, here and below: a pattern with captures cost several times as much.
    local entry, post = batch[i], nil
    local at = string.find(entry, '"postId":"', 1, true)
    if at then
      post = string.sub(entry, at + 10, string.find(entry, '"', at + 10, true) - 1)
    end
    posts[i] = post
    if post and authors[post] == nil and not unknown[post] then
      unknown[post] = true
      names[#names + 1] = post
    end
  end
  if #names > 0 then
    local keys = {}
    for j, post in ipairs(names) do keys[j] = prefix .. post end
    local audiences = redis.call('MGET', unpack(keys))
    for j, post in ipairs(names) do
      local audience = audiences[j]
      local space = audience and string.find(audience, ' ', 1, true)
      if space then
        authors[post] = string.sub(audience, 1, space - 1)
        public_from[post] = tonumber(string.sub(audience, space + 1))
      else
        authors[post] = audience  -- false when there is none
      end
    end
  end
  for i = 1, #batch, 2 do
    local post = posts[i]
    local visible = true
    if post then
      local from = public_from[post]
      visible = (viewer ~= '' and authors[post] == viewer)
        or (from ~= nil and tonumber(batch[i + 1]) >= from)
    end
    if visible then
      shown[#shown + 1] = batch[i]
      if #shown == first then break end
    end
  end
  if #batch < 2 * chunk then break end
  offset = offset + chunk
end
return shown

#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (CLIENT PAUSE WRITE during a
-- failover, a read-only replica, memory full, a failed snapshot).
-- What changed after a position, read in one step with the checkpoint it is consistent
-- with: how a live topic resumes after missed notices, and a subscriber after a reconnect
-- (projections/live/read_models.py).
-- KEYS[1] the posts projection's checkpoint, KEYS[2] its namespace key (the active space),
-- KEYS[3] ids scored by the position of their last change (Keys.post_changes or
-- Keys.comment_additions), in the space ARGV[5]
-- ARGV[1] the position already delivered (-1: give ARGV[4]'s state whatever it is)
-- ARGV[2] prefix of the hashes the ids name, ARGV[3] at most this many ids: when there
-- are that many, they come with empty hashes (the caller takes so many as too many)
-- ARGV[4] the one id to look at, or '' for every id changed after ARGV[1]
-- ARGV[5] the space KEYS[3] and ARGV[2] are in
-- ARGV[6] which ids count, for a resume ('' every id; 'feed' the posts the feed shows
-- after ARGV[1]; 'exists' those whose hash exists), ARGV[7] at most this many changed ids
-- looked through: past it, as many empty entries as ARGV[3] asks for (too many)
-- Returns {checkpoint, active space, id, position, {field, value, ...}, id, ...}, oldest
-- change first; only {checkpoint, active space} (nil when none) if that is not ARGV[5]:
-- a rebuild swapped the space, or Redis lost it, and the caller must look again.
local active = redis.call('GET', KEYS[2])
local reply = {tonumber(redis.call('GET', KEYS[1]) or '0'), active}
if active ~= ARGV[5] then
  return reply
end
local after = tonumber(ARGV[1])

-- Whether the hash at `key` counts for a resume (ARGV[6]), as the caller's view would show
-- it: a published post, or an archived one that was published by `after` + 1 (it changed
-- after `after`, or it would not be looked at: _resumed_published_post says why).
local function counts(key)
  if ARGV[6] == 'exists' then
    return redis.call('EXISTS', key) == 1
  elseif ARGV[6] ~= 'feed' then
    return true
  end
  local post = redis.call('HMGET', key, 'status', 'publishedAt', 'publishedPosition')
  if not post[2] then
    return false
  elseif post[1] == 'PUBLISHED' then
    return true
  end
  local published = tonumber(post[3] or '-1')
  return post[1] == 'ARCHIVED' and published <= after + 1
end

local function add(id, position, hash)
  reply[#reply + 1] = id
  reply[#reply + 1] = position
  reply[#reply + 1] = hash and redis.call('HGETALL', ARGV[2] .. id) or {}
end

if ARGV[4] ~= '' then
  local position = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[4]) or '0')
  if after < 0 or position > after then
    add(ARGV[4], position, true)
  end
else
  local most, scan = tonumber(ARGV[3]), tonumber(ARGV[7])
  local changed = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[1], '+inf',
    'WITHSCORES', 'LIMIT', 0, scan)
  -- Only what the subscriber may be shown counts: counting drafts, a resume that fit
  -- was refused once someone wrote one, and anyone could count them.
  local counted = {}
  if #changed / 2 < scan then
    for i = 1, #changed, 2 do
      if counts(ARGV[2] .. changed[i]) then
        counted[#counted + 1] = i
      end
    end
  else  -- too many to look through
    for i = 1, math.min(#changed, 2 * most), 2 do
      counted[#counted + 1] = i
    end
  end
  -- As many as asked for: the caller refuses them all, so their hashes are not read.
  local hashes = #counted < most
  for n = 1, math.min(#counted, most) do
    local i = counted[n]
    add(changed[i], tonumber(changed[i + 1]), hashes)
  end
end
return reply

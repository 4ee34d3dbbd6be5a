#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (see newest_page.lua).
-- One slice of a walk along the posts found in every sorted set of KEYS (a search's
-- words): it looks at no more than a given number of the smallest set's members, from
-- where the last slice stopped, and says where it stopped. Redis runs one script at a
-- time and nothing else meanwhile, so a walk made of short slices lets other clients in
-- between: ten words in 83% of 20,000 posts held Redis 26-42 ms in one ZINTERCARD, and
-- four addresses searching so took another client's p99 from 32 ms to 338-558 ms.
-- A count of a small intersection, for which the caller charged the lookups, is one
-- ZINTERCARD instead, which does in C what the walk does here.
-- The smallest set is walked by rank, which orders by score, then member, as
-- pagination.Position does; a start or stop no longer in the set is placed by its score
-- and member.
-- ARGV: the start's score and member ('' when there is no start), 1 to walk forward
-- (towards older posts, lower scores), how many items to take (0: only count), 1 when the
-- start itself may be taken, the stop's score and member ('' when there is no stop; the
-- stop is never taken), how many members of the smallest set to look at, at most, and
-- the lookups a count may make in one ZINTERCARD (0: none; it is made when the smallest
-- set times the sets comes to no more).
-- Returns {matches among the members looked at, {member, score, ...} taken in walking
-- order, the last member looked at and its score ('' for both when the walk reached its
-- end), how many members were read and looked up (what the slice cost Redis)}.
local start_score, start_member = ARGV[1], ARGV[2]
local forward, take, inclusive = ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5] == '1'
local stop_score, stop_member = ARGV[6], ARGV[7]
local budget, one_call = tonumber(ARGV[8]), tonumber(ARGV[9])
local CHUNK = 64  -- members looked up at once: a page of 20 seldom needs more

local smallest, size = 1, redis.call('ZCARD', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  if n < size then smallest, size = i, n end
end
local key = KEYS[smallest]
local others = {}
for i, name in ipairs(KEYS) do
  if i ~= smallest then others[#others + 1] = name end
end

if take == 0 and start_member == '' and stop_member == '' and size * #KEYS <= one_call then
  local matches = size
  if #others > 0 then matches = redis.call('ZINTERCARD', #KEYS, unpack(KEYS)) end
  return {matches, {}, '', '', size * (#others + 1)}
end

-- How many members of the set order below (score, member), and whether it is one of them.
local function place(score, member)
  local rank = redis.call('ZRANK', key, member)
  if rank and tonumber(redis.call('ZSCORE', key, member)) == tonumber(score) then
    return rank, true
  end
  local below = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  for _, tie in ipairs(redis.call('ZRANGEBYSCORE', key, score, score)) do
    if tie < member then below = below + 1 end
  end
  return below, false
end

-- The ranks to walk, first to last, both taken: `step` -1 walks forward (down the ranks).
local first, last, step
if forward then
  first, last, step = size - 1, 0, -1
  if start_member ~= '' then
    local below, present = place(start_score, start_member)
    first = (inclusive and present) and below or below - 1
  end
  if stop_member ~= '' then
    local below, present = place(stop_score, stop_member)
    last = present and below + 1 or below
  end
else
  first, last, step = 0, size - 1, 1
  if start_member ~= '' then
    local below, present = place(start_score, start_member)
    first = (present and not inclusive) and below + 1 or below
  end
  if stop_member ~= '' then
    last = place(stop_score, stop_member) - 1
  end
end

local matches, taken, cost = 0, {}, 0
local looked, rank = 0, first
local last_member, last_score = '', ''
while looked < budget and (last - rank) * step >= 0 do
  local n = math.min(CHUNK, budget - looked, (last - rank) * step + 1)
  local low, high = rank, rank + step * (n - 1)
  if step < 0 then low, high = high, low end
  local batch = redis.call('ZRANGE', key, low, high, 'WITHSCORES')
  local members, scores = {}, {}
  for i = 1, #batch, 2 do
    members[#members + 1] = batch[i]
    scores[#scores + 1] = batch[i + 1]
  end
  if step < 0 then  -- walking order
    for i = 1, math.floor(#members / 2) do
      local j = #members + 1 - i
      members[i], members[j] = members[j], members[i]
      scores[i], scores[j] = scores[j], scores[i]
    end
  end
  cost = cost + #members
  -- found[i]: whether members[i] is in every other set too
  local found, alive = {}, {}
  for i = 1, #members do alive[i] = i end
  for _, other in ipairs(others) do
    if #alive == 0 then break end
    local wanted = {}
    for j, i in ipairs(alive) do wanted[j] = members[i] end
    local held = redis.call('ZMSCORE', other, unpack(wanted))
    cost = cost + #wanted
    local kept = {}
    for j, i in ipairs(alive) do
      if held[j] then kept[#kept + 1] = i end
    end
    alive = kept
  end
  for _, i in ipairs(alive) do found[i] = true end
  for i = 1, #members do
    looked, rank = looked + 1, rank + step
    last_member, last_score = members[i], scores[i]
    if found[i] then
      matches = matches + 1
      if take > 0 then
        taken[#taken + 1] = members[i]
        taken[#taken + 1] = scores[i]
        if #taken >= 2 * take then return {matches, taken, last_score, last_member, cost} end
      end
    end
  end
  if #members < n then break end  -- the set shrank meanwhile
end
if (last - rank) * step < 0 or looked == 0 then last_member, last_score = '', '' end
return {matches, taken, last_score, last_member, cost}

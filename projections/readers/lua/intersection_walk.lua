#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (see newest_page.lua).
-- A walk along the posts found in every sorted set of KEYS (a search's words), newest
-- first, or oldest first when walking backward, inside Redis: only the walk's items come
-- back. Reading the whole intersection and sorting it in Python took 77 ms a search at
-- 20,000 matches, the event loop held throughout.
-- Two ways, for the two kinds of search. It walks the smallest set in order, keeping the
-- members every other set holds: a search with many matches has its items after a few
-- steps (9 ms at 20,000 matches, where ZINTER took 40-50). When WALKED members yield too
-- few, the matches are sparse, and ZINTER, whose answer is then small, finds them at
-- once (1 ms for two sets of 20,000 sharing one member, where the walk took 23 ms).
-- ARGV: the start's score and member ('' when there is no start), 1 to walk forward
-- (towards older posts), how many items to take, 1 when the start itself may be taken,
-- the stop's score and member ('' when there is no stop; the stop is never taken).
-- Returns {the intersection's size, {member, score, ...} in walking order}.
-- Positions order by score, then member, as pagination.Position does.
local start_score, start_member = tonumber(ARGV[1]), ARGV[2]
local forward, count, inclusive = ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5] == '1'
local stop_score, stop_member = tonumber(ARGV[6]), ARGV[7]
local CHUNK = 256
local WALKED = 2048  -- members of the smallest set looked at before ZINTER is used

local smallest, size = 1, redis.call('ZCARD', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  if n < size then smallest, size = i, n end
end
local others = {}
for i, key in ipairs(KEYS) do
  if i ~= smallest then others[#others + 1] = key end
end
local total = size
if #others > 0 then total = redis.call('ZINTERCARD', #KEYS, unpack(KEYS)) end

local function lower(score, member, than_score, than_member)
  return score < than_score or (score == than_score and member < than_member)
end

-- Past the start, in walking order: older when walking forward, newer when backward.
local function past_start(score, member)
  if start_member == '' then return true end
  if score == start_score and member == start_member then return inclusive end
  if forward then return lower(score, member, start_score, start_member) end
  return lower(start_score, start_member, score, member)
end

local function short_of_stop(score, member)
  if stop_member == '' then return true end
  if forward then return lower(stop_score, stop_member, score, member) end
  return lower(score, member, stop_score, stop_member)
end

local function in_all_others(member)
  for _, key in ipairs(others) do
    if not redis.call('ZSCORE', key, member) then return false end
  end
  return true
end

local function take(taken, member, score)
  if #taken < 2 * count and past_start(tonumber(score), member)
      and short_of_stop(tonumber(score), member) then
    taken[#taken + 1] = member
    taken[#taken + 1] = score
  end
end

-- The smallest set's members from the start's score to the stop's, in walking order.
local near = start_member == '' and (forward and '+inf' or '-inf') or ARGV[1]
local far = stop_member == '' and (forward and '-inf' or '+inf') or ARGV[6]
local taken = {}
local offset = 0
local exhausted = false
while #taken < 2 * count and offset < WALKED do
  local batch
  if forward then
    batch = redis.call('ZREVRANGEBYSCORE', KEYS[smallest], near, far, 'WITHSCORES', 'LIMIT', offset, CHUNK)
  else
    batch = redis.call('ZRANGEBYSCORE', KEYS[smallest], near, far, 'WITHSCORES', 'LIMIT', offset, CHUNK)
  end
  for i = 1, #batch, 2 do
    if in_all_others(batch[i]) then take(taken, batch[i], batch[i + 1]) end
  end
  exhausted = #batch < 2 * CHUNK
  if exhausted then break end
  offset = offset + CHUNK
end
if #taken >= 2 * count or exhausted then return {total, taken} end

-- Sparse: the whole intersection, ascending by score then member, walked here.
local command = {'ZINTER', #KEYS}
for _, key in ipairs(KEYS) do command[#command + 1] = key end
command[#command + 1] = 'AGGREGATE'
command[#command + 1] = 'MAX'
command[#command + 1] = 'WITHSCORES'
local all = redis.call(unpack(command))
taken = {}
local first, last, step = #all - 1, 1, -2  -- newest first
if not forward then first, last, step = 1, #all - 1, 2 end
for i = first, last, step do
  if #taken >= 2 * count then break end
  take(taken, all[i], all[i + 1])
end
return {total, taken}

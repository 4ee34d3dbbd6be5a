#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (see newest_page.lua).
-- A walk along the posts found in every sorted set of KEYS (a search's words), newest
-- first, or oldest first when walking backward, inside Redis: only the walk's items come
-- back. Reading the whole intersection and sorting it in Python took 77 ms a search at
-- 20,000 matches, the event loop held throughout.
-- ARGV: the start's score and member ('' when there is no start), 1 to walk forward
-- (towards older posts), how many items to take, 1 when the start itself may be taken,
-- the stop's score and member ('' when there is no stop; the stop is never taken).
-- Returns {the intersection's size, {member, score, ...} in walking order}.
-- Positions order by score, then member, as pagination.Position does.
local command = {'ZINTER', #KEYS}
for _, key in ipairs(KEYS) do command[#command + 1] = key end
command[#command + 1] = 'AGGREGATE'
command[#command + 1] = 'MAX'
command[#command + 1] = 'WITHSCORES'
local all = redis.call(unpack(command))  -- ascending by score, then member

local start_score, start_member = tonumber(ARGV[1]), ARGV[2]
local forward, count, inclusive = ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5] == '1'
local stop_score, stop_member = tonumber(ARGV[6]), ARGV[7]

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

local taken = {}
local first, last, step = #all - 1, 1, -2  -- newest first
if not forward then first, last, step = 1, #all - 1, 2 end
for i = first, last, step do
  if #taken >= 2 * count then break end
  local member, score = all[i], tonumber(all[i + 1])
  if past_start(score, member) and short_of_stop(score, member) then
    taken[#taken + 1] = member
    taken[#taken + 1] = all[i + 1]
  end
end
return {#all / 2, taken}

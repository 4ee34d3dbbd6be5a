#!lua flags=no-writes
-- no-writes: Redis runs it even while it refuses writes (CLIENT PAUSE WRITE during a
-- failover, a read-only replica, memory full, a failed snapshot).
-- verify's comparison of one SCAN page, inside Redis: one call per page, not two
-- round trips per key. KEYS[1..n] are keys of one space, KEYS[n+1..2n] the same names
-- in the other. ARGV[1] 'differ': the indexes i whose two values differ (a missing key
-- counts as empty); 'missing': the indexes i whose KEYS[n+i] does not exist.
local function canonical(key)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'none' then
    return ''
  elseif kind == 'string' then
    return 's' .. redis.call('GET', key)
  elseif kind == 'hash' then
    local flat = redis.call('HGETALL', key)
    local fields = {}
    for i = 1, #flat, 2 do
      fields[#fields + 1] = flat[i] .. '\0' .. flat[i + 1]
    end
    table.sort(fields)
    return 'h' .. table.concat(fields, '\1')
  elseif kind == 'zset' then
    return 'z' .. table.concat(redis.call('ZRANGE', key, 0, -1, 'WITHSCORES'), '\1')
  elseif kind == 'set' then
    local members = redis.call('SMEMBERS', key)
    table.sort(members)
    return 'S' .. table.concat(members, '\1')
  elseif kind == 'list' then
    return 'l' .. table.concat(redis.call('LRANGE', key, 0, -1), '\1')
  end
  return kind
end

local n = #KEYS / 2
local found = {}
for i = 1, n do
  if ARGV[1] == 'missing' then
    if redis.call('EXISTS', KEYS[n + i]) == 0 then
      found[#found + 1] = i
    end
  elseif canonical(KEYS[i]) ~= canonical(KEYS[n + i]) then
    found[#found + 1] = i
  end
end
return found

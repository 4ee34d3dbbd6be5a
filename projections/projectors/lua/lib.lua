-- Shared functions, put in front of every script when it is loaded (Redis 6.2 has no
-- function libraries). Nothing here runs on its own.

-- JSON with a fixed key order, so that replaying the log yields byte-identical read models.
local function json_object(pairs_list)
  local parts = {}
  for i = 1, #pairs_list, 2 do
    local value = pairs_list[i + 1]
    if value then
      parts[#parts + 1] = cjson.encode(pairs_list[i]) .. ':' .. cjson.encode(value)
    end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- Writes the post's `topComments`: its n newest comments, newest first, as JSON.
-- `ids`: those n comment ids, if the caller has read them already.
local function refresh_top_comments(post_key, comment_ids_key, comment_prefix, n, ids)
  ids = ids or redis.call('ZREVRANGE', comment_ids_key, 0, n - 1)
  local top = {}
  for i, id in ipairs(ids) do
    local c = redis.call('HMGET', comment_prefix .. id,
      'id', 'postId', 'authorId', 'authorName', 'authorAvatarUrl', 'body', 'createdAt',
      'position')
    top[i] = json_object({
      'id', c[1], 'postId', c[2], 'authorId', c[3], 'authorName', c[4],
      'authorAvatarUrl', c[5], 'body', c[6], 'createdAt', c[7], 'position', c[8],
    })
  end
  redis.call('HSET', post_key, 'topComments', '[' .. table.concat(top, ',') .. ']')
end

-- Sets fields on a hash; an empty string value deletes the field (Redis has no null).
local function set_or_delete(key, fields)
  for i = 1, #fields, 2 do
    if fields[i + 1] == '' then
      redis.call('HDEL', key, fields[i])
    else
      redis.call('HSET', key, fields[i], fields[i + 1])
    end
  end
end

-- The post a recent-events entry names ("postId", written by orjson: the server's UUIDs
-- hold no quote or escape), or nil. Plain finds: a pattern with captures cost several
-- times as much, and a read walks up to a hundred entries.
local function post_of_entry(entry)
  local at = string.find(entry, '"postId":"', 1, true)
  if at then
    return string.sub(entry, at + 10, string.find(entry, '"', at + 10, true) - 1)
  end
  return nil
end

-- The cost of denormalizing, paid once per rename on the write side: the author's new
-- name and avatar go into every post and comment of theirs, and every post showing one
-- of their comments among its top comments gets those recomputed. A post they commented
-- on whose top comments are all others' shows nothing of theirs: it keeps them as they
-- are (reading its top ids costs a tenth of recomputing them). Each post they wrote or
-- commented on is announced to live subscribers, as Tx.post_changed would (the script
-- knows them, Python not).
-- A profile change that leaves the name and the avatar as they were (a new bio) shows in
-- no post or comment: nothing is rewritten or announced. It had sent every post of the
-- author to every feed subscriber, all unchanged, and made a feed resumed from before it
-- RESUBSCRIBE for an author of 130 posts (an outside probe). Run before the author's
-- hash is written, so that it reads the name and avatar the posts hold.
-- KEYS[1] the author's post ids, KEYS[2] the author's comment ids, KEYS[3] the posts'
-- change positions (Keys.post_changes), KEYS[4] the author's hash
-- ARGV[1] post key prefix, ARGV[2] comment key prefix, ARGV[3] suffix of a post's
-- comment-ids key, ARGV[4] top comments kept, ARGV[5] name, ARGV[6] avatar URL ('' = none),
-- ARGV[7] prefix of a post's change channel, ARGV[8] the all-posts change channel,
-- ARGV[9] the position the batch reaches, ARGV[10] the position of the rename,
-- ARGV[11] '1' when the rename is applied behind the checkpoint (a retry: Tx.late), and
-- its notices must say so. ARGV[7] empty: no notices (a rebuild's private spaces).
local shown = redis.call('HMGET', KEYS[4], 'name', 'avatarUrl')
if shown[1] == ARGV[5] and (shown[2] or '') == ARGV[6] then
  return 0
end
local author = {'authorName', ARGV[5], 'authorAvatarUrl', ARGV[6]}
local touched = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  set_or_delete(ARGV[1] .. id, author)
  touched[id] = true
end
local commented, theirs = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[2] .. id
  set_or_delete(key, author)
  commented[redis.call('HGET', key, 'postId')] = true
  theirs[id] = true
end
local kept = tonumber(ARGV[4])
for post_id, _ in pairs(commented) do
  local post_key = ARGV[1] .. post_id
  local top = redis.call('ZREVRANGE', post_key .. ARGV[3], 0, kept - 1)
  for _, id in ipairs(top) do
    if theirs[id] then
      refresh_top_comments(post_key, post_key .. ARGV[3], ARGV[2], kept, top)
      break
    end
  end
  touched[post_id] = true
end
for post_id, _ in pairs(touched) do
  redis.call('HSET', ARGV[1] .. post_id, 'position', ARGV[10])
  if ARGV[7] ~= '' then
    local notice = json_object({'id', post_id, 'position', tonumber(ARGV[9]),
      'late', ARGV[11] == '1' or nil})
    redis.call('PUBLISH', ARGV[7] .. post_id, notice)
    redis.call('PUBLISH', ARGV[8], notice)
  end
  redis.call('ZADD', KEYS[3], tonumber(ARGV[10]), post_id)
end
return 1

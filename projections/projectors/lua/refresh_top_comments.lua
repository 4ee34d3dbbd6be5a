-- Recomputes a post's top comments after one was added or deleted.
-- KEYS[1] the post hash, KEYS[2] the post's comment ids (sorted by time)
-- ARGV[1] the comment hash key prefix, ARGV[2] how many comments to keep
refresh_top_comments(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
return 1

-- A batch's second step, once every reply of its MULTI was checked: moves the checkpoint
-- and announces the batch, if Redis still holds what the batch was applied to.
-- KEYS[1] the projection's namespace key, KEYS[2] its unconfirmed marker,
-- KEYS[3] its checkpoint, KEYS[4] the log's head (sorted set), KEYS[5] the checkpoint's
-- event (projections/projectors/checkpoint_events.py)
-- ARGV[1] the space the batch wrote, ARGV[2] its last position,
-- ARGV[3] the checkpoints channel, ARGV[4] the checkpoint notice, ARGV[5] the mark of
-- the batch's last event,
-- ARGV[6..] channel, message, channel, message, ... (the batch's change notices)
-- Returns 0, and changes nothing, when a swap or a flush came in between.
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('SET', KEYS[5], ARGV[5])
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[4], 'GT', ARGV[2], 'head')
for i = 6, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1

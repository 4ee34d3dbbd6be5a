-- What a projector batch is read against, in one round trip (under the runner's WATCH):
-- the checkpoint, the active space, the unconfirmed marker, the log the read models are
-- bound to, then for each stream in ARGV the position its first parked event has (false
-- when the stream is not parked).
-- KEYS: checkpoint, namespace, unconfirmed marker, log identity, parked streams hash.
local state = {
  redis.call('GET', KEYS[1]),
  redis.call('GET', KEYS[2]),
  redis.call('GET', KEYS[3]),
  redis.call('GET', KEYS[4]),
}
if #ARGV > 0 then
  local firsts = redis.call('HMGET', KEYS[5], unpack(ARGV))
  for i = 1, #ARGV do state[4 + i] = firsts[i] end
end
return state

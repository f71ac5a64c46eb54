"""Lua scripts of the Redis Streams adapter: each queue operation is one atomic server-side step.

Atomicity is what makes the semantics hold with many consumers: the session-lock check and the
claim, the duplicate check and the append, the ownership check and the settle cannot interleave.

State lives in a stream's consumer group. An entry in the group's pending list (PEL) is either
*locked* (idle time < lock duration: a consumer holds it) or *available* (idle >= lock duration:
its consumer died, it was abandoned, or it was parked because its session was busy). The PEL's
delivery counter is the message's delivery count; a parked entry has a count of 0 so its first
real delivery still counts as 1. Stream entry fields: mid (message id), body, t (enqueued ms),
exp (expiry ms, optional), sid (session id, optional); dead-letter entries add reason,
description and dlt (dead-lettered ms).
"""

from __future__ import annotations

_COMMON = """
local function fields_of(flat)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end

local function remove(stream, group, id)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
end

local function move_to_dead_letter(stream, group, id, dlq, reason, description, now)
  local entry = redis.call('XRANGE', stream, id, id)
  if #entry > 0 then
    local f = fields_of(entry[1][2])
    local copy = {'mid', f['mid'] or '', 'body', f['body'] or '', 't', f['t'] or '0',
                  'reason', reason, 'description', description, 'dlt', now}
    if f['sid'] then
      copy[#copy + 1] = 'sid'
      copy[#copy + 1] = f['sid']
    end
    redis.call('XADD', dlq, '*', unpack(copy))
  end
  remove(stream, group, id)
end
"""

# KEYS[1] duplicate-detection key, KEYS[2..] the streams to append to (a queue, or the
# subscriptions of a topic that accept the message; none is allowed)
# ARGV[1] duplicate window ms (0 = off), [2] message id, [3] body, [4] session id or '',
# [5] enqueued ms, [6] expires ms (0 = never), [7] the consumer group each stream must have
SEND = """
local window = tonumber(ARGV[1])
if window > 0 and not redis.call('SET', KEYS[1], '1', 'NX', 'PX', window) then
  return false
end
local entry = {'mid', ARGV[2], 'body', ARGV[3], 't', ARGV[5]}
if ARGV[6] ~= '0' then
  entry[#entry + 1] = 'exp'
  entry[#entry + 1] = ARGV[6]
end
if ARGV[4] ~= '' then
  entry[#entry + 1] = 'sid'
  entry[#entry + 1] = ARGV[4]
end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    -- Created with its group, so a message sent before the first receive is kept for it.
    redis.call('XGROUP', 'CREATE', KEYS[i], ARGV[7], '0', 'MKSTREAM')
  end
  redis.call('XADD', KEYS[i], '*', unpack(entry))
end
return #KEYS - 1
"""

# KEYS[1] stream, KEYS[2] dead-letter stream
# ARGV[1] group, [2] consumer, [3] max messages, [4] lock ms, [5] max deliveries (0 = no limit),
# [6] now ms (adapter clock, for TTL), [7] session lock key prefix ('' = no session ordering),
# [8] pending entries to scan at most
# Returns {last entry id or '0-0', {{id, fields, delivery count}, ...}}
RECEIVE = (
    _COMMON
    + """
local stream, dlq = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local want = tonumber(ARGV[3])
local lock_ms = tonumber(ARGV[4])
local max_deliveries = tonumber(ARGV[5])
local now = ARGV[6]
local lock_prefix = ARGV[7]
local scan_limit = tonumber(ARGV[8])

redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')

local out = {}
local busy = {}  -- sessions found locked, or given a message, during this call

local function session_free(sid)
  if busy[sid] then return false end
  if redis.call('EXISTS', lock_prefix .. sid) == 1 then
    busy[sid] = true
    return false
  end
  return true
end

-- Deliver the entry if it may be: 'delivered', 'settled' (expired or dead-lettered) or 'busy'.
local function offer(id, flat, deliveries)
  local f = fields_of(flat)
  local expires = tonumber(f['exp'] or '0')
  if expires > 0 and tonumber(now) >= expires then
    remove(stream, group, id)
    return 'settled'
  end
  if max_deliveries > 0 and deliveries >= max_deliveries then
    move_to_dead_letter(stream, group, id, dlq, 'MaxDeliveryCountExceeded',
      'lock expired on the last permitted delivery', now)
    return 'settled'
  end
  local sid = nil
  if lock_prefix ~= '' then sid = f['sid'] end
  if sid and not session_free(sid) then return 'busy' end
  -- Take it over with a fresh lock (idle 0) and count this delivery.
  redis.call('XCLAIM', stream, group, consumer, 0, id, 'RETRYCOUNT', deliveries + 1, 'JUSTID')
  if sid then
    redis.call('SET', lock_prefix .. sid, id, 'PX', lock_ms)
    busy[sid] = true
  end
  out[#out + 1] = {id, flat, deliveries + 1}
  return 'delivered'
end

-- 1. Available pending entries, oldest first: a session's earlier messages come before its
--    later ones because stream ids grow with every send.
local pending = redis.call('XPENDING', stream, group, 'IDLE', lock_ms, '-', '+', scan_limit)
for _, p in ipairs(pending) do
  if #out >= want then break end
  local entry = redis.call('XRANGE', stream, p[1], p[1])
  if #entry == 0 then
    redis.call('XACK', stream, group, p[1])  -- trimmed away underneath us
  else
    offer(p[1], entry[1][2], tonumber(p[4]))
  end
end

-- 2. Entries never read by this group.
local rounds = 0
while #out < want and rounds < 16 do
  rounds = rounds + 1
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - #out,
                           'STREAMS', stream, '>')
  if not reply then break end
  local entries = reply[1][2]
  if #entries == 0 then break end
  for _, e in ipairs(entries) do
    if offer(e[1], e[2], 0) == 'busy' then
      -- Park it: pending, available at once, no delivery counted.
      redis.call('XCLAIM', stream, group, consumer, 0, e[1], 'IDLE', lock_ms,
                 'RETRYCOUNT', 0, 'JUSTID')
    end
  end
end

local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
local last_id = '0-0'
if #last > 0 then last_id = last[1][1] end
return {last_id, out}
"""
)

# KEYS[1] stream, KEYS[2] dead-letter stream
# ARGV[1] complete|abandon|dead_letter, [2] group, [3] consumer, [4] entry id,
# [5] delivery count the receiver saw, [6] session lock key ('' = none), [7] lock ms,
# [8] max deliveries (0 = no limit), [9] now ms, [10] reason, [11] description
# Returns 'completed' | 'abandoned' | 'dead-lettered' | 'lost'
SETTLE = (
    _COMMON
    + """
local stream, dlq = KEYS[1], KEYS[2]
local op, group, consumer, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local seen = tonumber(ARGV[5])
local lock_key = ARGV[6]
local max_deliveries = tonumber(ARGV[8])
local now = ARGV[9]

-- Still ours, and not redelivered since (redelivery bumps the count, even to the same consumer)?
local mine = redis.call('XPENDING', stream, group, id, id, 1, consumer)
if #mine == 0 or tonumber(mine[1][4]) ~= seen then return 'lost' end
if lock_key ~= '' and redis.call('GET', lock_key) == id then redis.call('DEL', lock_key) end

if op == 'complete' then
  remove(stream, group, id)
  return 'completed'
end
if op == 'dead_letter' then
  move_to_dead_letter(stream, group, id, dlq, ARGV[10], ARGV[11], now)
  return 'dead-lettered'
end
if max_deliveries > 0 and seen >= max_deliveries then
  move_to_dead_letter(stream, group, id, dlq, 'MaxDeliveryCountExceeded',
    'abandoned on the last permitted delivery', now)
  return 'dead-lettered'
end
redis.call('XCLAIM', stream, group, consumer, 0, id, 'IDLE', ARGV[7], 'RETRYCOUNT', seen, 'JUSTID')
return 'abandoned'
"""
)

# KEYS[1] stream; ARGV[1] group, [2] consumer. Forget this consumer if it holds nothing, so
# consumer lists do not grow with every restarted replica.
FORGET_CONSUMER = """
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then return 0 end
for _, c in ipairs(consumers) do
  local name, pending = nil, nil
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] end
    if c[i] == 'pending' then pending = c[i + 1] end
  end
  if name == ARGV[2] and tonumber(pending) == 0 then
    return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  end
end
return 0
"""

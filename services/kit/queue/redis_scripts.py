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

local function remove(stream, group, id, delete)
  redis.call('XACK', stream, group, id)
  if delete then redis.call('XDEL', stream, id) end
end

local function move_to_dead_letter(stream, group, id, delete, dlq, reason, description, now)
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
  remove(stream, group, id, delete)
end
"""

# KEYS[1] stream, KEYS[2] duplicate-detection key
# ARGV[1] duplicate window ms (0 = off), [2] message id, [3] body, [4] session id or '',
# [5] enqueued ms, [6] expires ms (0 = never), [7..] consumer groups that must exist first
SEND = """
local window = tonumber(ARGV[1])
if window > 0 and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', window) then
  return false
end
for i = 7, #ARGV do
  -- '0': a group created now still sees entries appended before it (BUSYGROUP if it exists).
  redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[i], '0', 'MKSTREAM')
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
return redis.call('XADD', KEYS[1], '*', unpack(entry))
"""

# KEYS[1] stream, KEYS[2] dead-letter stream
# ARGV[1] group, [2] consumer, [3] max messages, [4] lock ms, [5] max deliveries (0 = no limit),
# [6] now ms (adapter clock, for TTL), [7] '1' = delete settled entries (queues, not topics),
# [8] session lock key prefix ('' = no session ordering), [9] pending entries to scan at most
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
local delete = ARGV[7] == '1'
local lock_prefix = ARGV[8]
local scan_limit = tonumber(ARGV[9])

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
    remove(stream, group, id, delete)
    return 'settled'
  end
  if max_deliveries > 0 and deliveries >= max_deliveries then
    move_to_dead_letter(stream, group, id, delete, dlq, 'MaxDeliveryCountExceeded',
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
# [5] delivery count the receiver saw, [6] session lock key ('' = none), [7] '1' = delete,
# [8] lock ms, [9] max deliveries (0 = no limit), [10] now ms, [11] reason, [12] description
# Returns 'completed' | 'abandoned' | 'dead-lettered' | 'lost'
SETTLE = (
    _COMMON
    + """
local stream, dlq = KEYS[1], KEYS[2]
local op, group, consumer, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local seen = tonumber(ARGV[5])
local lock_key = ARGV[6]
local delete = ARGV[7] == '1'
local max_deliveries = tonumber(ARGV[9])
local now = ARGV[10]

-- Still ours, and not redelivered since (redelivery bumps the count, even to the same consumer)?
local mine = redis.call('XPENDING', stream, group, id, id, 1, consumer)
if #mine == 0 or tonumber(mine[1][4]) ~= seen then return 'lost' end
if lock_key ~= '' and redis.call('GET', lock_key) == id then redis.call('DEL', lock_key) end

if op == 'complete' then
  remove(stream, group, id, delete)
  return 'completed'
end
if op == 'dead_letter' then
  move_to_dead_letter(stream, group, id, delete, dlq, ARGV[11], ARGV[12], now)
  return 'dead-lettered'
end
if max_deliveries > 0 and seen >= max_deliveries then
  move_to_dead_letter(stream, group, id, delete, dlq, 'MaxDeliveryCountExceeded',
    'abandoned on the last permitted delivery', now)
  return 'dead-lettered'
end
redis.call('XCLAIM', stream, group, consumer, 0, id, 'IDLE', ARGV[8], 'RETRYCOUNT', seen, 'JUSTID')
return 'abandoned'
"""
)

# KEYS[1] topic stream. Drops entries every subscription has settled (topics keep entries after
# XACK because other subscriptions may still need them). Returns the number of entries removed.
TRIM_TOPIC = (
    _COMMON
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function split(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms, seq
end
local function before(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local floor = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = fields_of(g)
  local keep
  if tonumber(info['pending']) > 0 then
    keep = redis.call('XPENDING', KEYS[1], info['name'])[2]
  else
    local ms, seq = split(info['last-delivered-id'])
    keep = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
  end
  if floor == nil or before(keep, floor) then floor = keep end
end
if floor == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', floor)
"""
)

# KEYS[1] topic stream; ARGV[1] group. Active messages of one subscription: pending + unread.
SUBSCRIPTION_LENGTH = (
    _COMMON
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = fields_of(g)
  if info['name'] == ARGV[1] then
    local unread = info['lag']
    if not unread then  -- Redis cannot tell after deletions: count what follows the group's id
      unread = 0
      local start = '(' .. info['last-delivered-id']
      while true do
        local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 1000)
        unread = unread + #batch
        if #batch < 1000 then break end
        start = '(' .. batch[#batch][1]
      end
    end
    return tonumber(info['pending']) + tonumber(unread)
  end
end
return redis.call('XLEN', KEYS[1])  -- group not created yet: it will start from the first entry
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

"""The Lua scripts of the Redis store: each makes one store operation a single atomic round trip.

Some scripts build key names from a prefix passed in ARGV (candidate story records, delivery hashes)
because which keys they touch is only known inside the script. That is fine on one Redis server and
is one reason the store does not support Redis Cluster.
"""

from __future__ import annotations

# Seen items: a sorted set per feed, item id -> expiry (seconds). Both scripts work in chunks because
# Lua's unpack() is limited to a few thousand values, and a first poll may bring more.

# KEYS: seen zset; ARGV: now, ids... Returns the 0-based positions of the ids not seen (or expired):
# a few small integers instead of every score, which is what the client spends its time parsing.
UNSEEN_ITEMS = r"""
local now, out = tonumber(ARGV[1]), {}
for first = 2, #ARGV, 500 do
  local last = math.min(first + 499, #ARGV)
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, first, last))
  for i = first, last do
    local score = scores[i - first + 1]
    if not score or tonumber(score) <= now then out[#out + 1] = i - 2 end
  end
end
return out
"""

# KEYS: seen zset; ARGV: now, expiry, key TTL (s), ids... Also drops the expired entries.
REMEMBER_ITEMS = r"""
for first = 4, #ARGV, 500 do
  local entries = {}
  for i = first, math.min(first + 499, #ARGV) do
    entries[#entries + 1] = ARGV[2]
    entries[#entries + 1] = ARGV[i]
  end
  redis.call('ZADD', KEYS[1], unpack(entries))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"""

# KEYS: alert key, due zset, index zset, delivery prefix; ARGV: alert id, body, now, ttl, sinks...
ENQUEUE = r"""
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[4]) == false then return 0 end
for i = 5, #ARGV do
  local member = ARGV[1] .. '\31' .. ARGV[i]
  redis.call('HSET', KEYS[4] .. member, 'status', 'pending', 'attempts', 0, 'next', ARGV[3])
  redis.call('EXPIRE', KEYS[4] .. member, ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[3], member)
  redis.call('ZADD', KEYS[3], ARGV[3], member)
end
return 1
"""

# Claims live in the delivery hash: `token` (the latest claim's fencing token, only ever growing),
# `owner` and `until` (the claim's expiry on the server's clock, ms). Claiming never moves the due
# zset, so an expired claim is simply due again and the next scan takes it over.
#
# An edit of a delivered message is a delivery of its own, its member the send's with '#edit' after
# the sink. A delivery's `receipt` is what its sink's send returned; an edit holds a copy of it.
# `renote` marks a claimed delivery whose alert gained outlets after the claim read it: when that
# claim ends delivered, what went out lacks them and an edit is made due. A new claim clears it.
#
# KEYS: due zset; ARGV: now, limit, owner, ttl (ms), delivery key prefix, alert key prefix, members
# scanned at most, then sinks to pass over. Returns {member, attempts, next, error, token, body,
# receipt} per claimed delivery, in due order. Scans page by page past deliveries other owners hold.
CLAIM_DUE = r"""
local now, limit, owner = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local ttl, prefix, alert_prefix, most = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local skip = {}
for i = 8, #ARGV do skip[ARGV[i]] = true end
local time = redis.call('TIME')
local clock = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiry = string.format('%d', clock + ttl)
local out, offset, scanned = {}, 0, 0
while #out < limit and scanned < most do
  local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', offset, limit)
  if #members == 0 then break end
  offset, scanned = offset + #members, scanned + #members
  for _, member in ipairs(members) do
    local sep = string.find(member, '\31', 1, true)
    local sink = string.sub(member, sep + 1)
    if string.sub(sink, -5) == '#edit' then sink = string.sub(sink, 1, -6) end
    local key = prefix .. member
    if redis.call('EXISTS', key) == 0 then
      -- Expired with its alert (seen_ttl): nothing left to send; it leaves the due set.
      redis.call('ZREM', KEYS[1], member)
      offset = offset - 1
    elseif not skip[sink] then
      local f = redis.call('HMGET', key, 'status', 'attempts', 'next', 'error', 'owner', 'until', 'receipt')
      if f[1] == 'pending' and (not f[6] or f[5] == owner or tonumber(f[6]) <= clock) then
        local body = redis.call('GET', alert_prefix .. string.sub(member, 1, sep - 1))
        if body then
          local token = redis.call('HINCRBY', key, 'token', 1)
          redis.call('HSET', key, 'owner', owner, 'until', expiry)
          redis.call('HDEL', key, 'renote')
          out[#out + 1] = {member, f[2] or '0', f[3] or '0', f[4] or '', token, body, f[7] or ''}
          if #out >= limit then break end
        end
      end
    end
  end
end
return out
"""

# Make one edit of a delivered send (its member `base`) due at `at`, with the send's receipt and
# TTL: a new one, or the one delivered before made pending again; one pending already is marked
# `renote` when claimed (an unclaimed one reads the alert as it stands). True when an edit is pending.
ENSURE_EDIT = r"""
local function ensure_edit(prefix, due, index, base, at)
  local f = redis.call('HMGET', prefix .. base, 'status', 'receipt')
  if f[1] ~= 'delivered' or not f[2] or f[2] == '' then return false end
  local member = base .. '#edit'
  local key = prefix .. member
  local e = redis.call('HMGET', key, 'status', 'owner')
  if not e[1] or e[1] == 'delivered' then
    redis.call('HSET', key, 'status', 'pending', 'attempts', 0, 'next', at, 'error', '', 'receipt', f[2])
    redis.call('HDEL', key, 'renote')
    local ttl = redis.call('PTTL', prefix .. base)
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
    redis.call('ZADD', due, at, member)
    redis.call('ZADD', index, at, member)
    return true
  end
  if e[1] == 'pending' then
    if e[2] then redis.call('HSET', key, 'renote', 1) end
    return true
  end
  return false
end
"""

# KEYS: due zset, index zset; ARGV: delivery key prefix, then six per ack: member, token, status
# ('delivered', 'parked', 'pending' for a retry, 'release'), at, error, receipt. Returns 1 (applied)
# or 0 per ack. An ack applies only to a pending delivery whose latest claim is its token, and
# spends that claim, recording it and the outcome as `acked`: the same ack sent again (a batch
# retried after a later call of it failed) is answered 1 and changes nothing.
ACK_DELIVERIES = (
    ENSURE_EDIT
    + r"""
local out = {}
for i = 2, #ARGV, 6 do
  local member, status = ARGV[i], ARGV[i + 2]
  local key = ARGV[1] .. member
  local f = redis.call('HMGET', key, 'status', 'token', 'renote', 'acked')
  if f[1] == 'pending' and f[2] == ARGV[i + 1] then
    redis.call('HINCRBY', key, 'token', 1)
    redis.call('HDEL', key, 'owner', 'until', 'renote')
    redis.call('HSET', key, 'acked', ARGV[i + 1] .. ':' .. status)
    if status ~= 'release' then
      redis.call('HINCRBY', key, 'attempts', 1)
      redis.call('HSET', key, 'status', status, 'next', ARGV[i + 3], 'error', ARGV[i + 4])
      if status == 'pending' then redis.call('ZADD', KEYS[1], ARGV[i + 3], member)
      else redis.call('ZREM', KEYS[1], member) end
      if status == 'delivered' then
        if ARGV[i + 5] ~= '' then redis.call('HSET', key, 'receipt', ARGV[i + 5]) end
        if f[3] then  -- the alert gained outlets while this went out: what was sent lacks them
          local base = member
          if string.sub(base, -5) == '#edit' then base = string.sub(base, 1, -6) end
          ensure_edit(ARGV[1], KEYS[1], KEYS[2], base, ARGV[i + 3])
        end
      end
    end
    out[#out + 1] = 1
  elseif f[4] == ARGV[i + 1] .. ':' .. status then
    out[#out + 1] = 1  -- this very ack, applied before
  else
    out[#out + 1] = 0
  end
end
return out
"""
)

# A later copy of an event named outlets: the alert body's "also" list gains those not yet named
# (never the alert's own feed); pending sends are marked `renote` when claimed, delivered ones with
# a receipt get an edit due (ENSURE_EDIT). The body is rewritten in place: only its "also" array
# changes, found by its neighbours (a JSON string cannot hold the unescaped quotes of these marks).
#
# KEYS: alert key, due zset, index zset; ARGV: delivery key prefix, alert id, now, outlet count n,
# n outlets (each a JSON object with its feed), then sinks. Returns the sinks with an edit pending.
NOTE_OUTLETS = (
    ENSURE_EDIT
    + r"""
local body = redis.call('GET', KEYS[1])
if not body then return {} end
local record = cjson.decode(body)
local named, also = {[record.item.feed] = true}, {}
for _, o in ipairs(record.also) do
  named[type(o) == 'table' and o.feed or o] = true; also[#also + 1] = o
end
local n, added = tonumber(ARGV[4]), false
for i = 5, 4 + n do
  local o = cjson.decode(ARGV[i])
  if not named[o.feed] then named[o.feed] = true; also[#also + 1] = o; added = true end
end
if not added then return {} end
-- The edits first, the body last: a script that fails part-way is not rolled back, and a body
-- already naming the outlets would make the caller's retry find nothing to add (and edit nothing).
local edits = {}
for i = 5 + n, #ARGV do
  local base = ARGV[2] .. '\31' .. ARGV[i]
  local f = redis.call('HMGET', ARGV[1] .. base, 'status', 'owner')
  if f[1] == 'pending' then
    if f[2] then redis.call('HSET', ARGV[1] .. base, 'renote', 1) end
  elseif f[1] == 'delivered' then
    if ensure_edit(ARGV[1], KEYS[2], KEYS[3], base, ARGV[3]) then edits[#edits + 1] = ARGV[i] end
  end
end
local head = string.find(body, ',"also":[', 1, true)
local tail = string.find(body, '],"item":{', head, true)
body = string.sub(body, 1, head + 7) .. cjson.encode(also) .. string.sub(body, tail + 1)
redis.call('SET', KEYS[1], body, 'KEEPTTL')
return edits
"""
)

# The event index's candidates for one new copy: every index key's newest `postings` events, each key
# giving its events one vote divided among them (as `events.link.rank`), the `max` best ranked (ties:
# the smaller id). Read-only: the caller WATCHes these keys, then these ids' records, and re-reads
# the records before deciding.
#
# KEYS: index keys; ARGV: postings per key, candidates at most. Returns the ids, best first.
EVENT_CANDIDATES = r"""
local postings, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local votes, ids = {}, {}
for _, key in ipairs(KEYS) do
  local members = redis.call('ZREVRANGE', key, 0, postings - 1)
  local n = #members
  for _, id in ipairs(members) do
    if not votes[id] then votes[id] = 0; ids[#ids + 1] = id end
    votes[id] = votes[id] + 1.0 / n
  end
end
table.sort(ids, function(a, b)
  if votes[a] ~= votes[b] then return votes[a] > votes[b] end
  return a < b
end)
local out = {}
for i = 1, math.min(#ids, most) do out[i] = ids[i] end
return out
"""

# File one event decision: its record, the item's pointer to it, and the event under each index key
# (a sorted set by time, cut to its newest `postings`), every key expiring with the record. Run inside
# the caller's MULTI, after its WATCH: all of it or none.
#
# KEYS: record, item pointer, index keys...; ARGV: event id, record JSON, ttl (ms), score, postings.
FILE_EVENT = r"""
local id, ttl, score, postings = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('SET', KEYS[2], id, 'PX', ttl)
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], score, id)
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(postings + 1))
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 1
"""

# Leases expire on Redis's own clock (PX), so replicas with skewed clocks agree on who holds one.
# Tokens start from the server clock in ms: they stay increasing even after Redis lost its data.
# KEYS: lease, fence; ARGV: owner, ttl (ms). The lease value is "token\31owner".
ACQUIRE_LEASE = r"""
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, string.find(held, '\31', 1, true) + 1) ~= ARGV[1] then return false end
local time = redis.call('TIME')
local clock = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local token = string.format('%d', math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, clock))
redis.call('SET', KEYS[2], token)
redis.call('SET', KEYS[1], token .. '\31' .. ARGV[1], 'PX', ARGV[2])
return tonumber(token)
"""

# KEYS: lease; ARGV: value ("token\31owner"), ttl (ms).
RENEW_LEASE = r"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: lease; ARGV: value. Compare-and-delete: an expired holder never removes its successor's lease.
RELEASE_LEASE = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: feed state, feed set, fence; ARGV: state, feed name, token.
PUT_FEED_STATE_FENCED = r"""
if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""

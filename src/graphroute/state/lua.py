"""The Lua scripts of the Redis state backend. Each is one atomic state change; every key one
script touches carries the same hash tag (``{...}``), so each runs in one Redis Cluster slot.
Time is the server's (``TIME``), the same for every worker. Written by hand: no library offers
shared breakers with an elected probe, reservations with expiry, or decayed bandit statistics.
"""

NOW = "local _t = redis.call('TIME'); local now = tonumber(_t[1]) + tonumber(_t[2]) / 1000000\n"

# KEYS: breaker hash, failures zset, trials zset. ARGV: failures, cooldown_s, trial_ttl_s, token, window_s
BREAKER_ALLOW = NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local st = redis.call('HGET', KEYS[1], 'state') or 'closed'
local ttl = tonumber(ARGV[3])
if st == 'closed' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
  local recent = redis.call('ZCARD', KEYS[2])
  if recent == 0 then return {1, st} end
  if recent + redis.call('ZCARD', KEYS[3]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[3], now + ttl, ARGV[4])
    return {2, st}
  end
  return {0, st}
end
if st == 'open' and now - tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0') >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'half_open')
  redis.call('DEL', KEYS[3])
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[4])
  return {2, 'half_open'}
end
if st == 'half_open' and redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[4])
  return {2, st}
end
return {0, st}
"""

_OPEN = """
local function open_breaker()
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now))
  redis.call('HINCRBY', KEYS[1], 'trips', 1)
  redis.call('DEL', KEYS[2])
  return 'open'
end
"""

# KEYS as BREAKER_ALLOW. ARGV: failures, window_s, token ('' for none), unique member
BREAKER_FAILURE = NOW + _OPEN + """
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[3], ARGV[3]) end
local st = redis.call('HGET', KEYS[1], 'state') or 'closed'
if st == 'half_open' then return open_breaker() end
if st == 'open' then return st end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then return open_breaker() end
return st
"""

# KEYS as BREAKER_ALLOW. ARGV: token ('' for none), 1 if the ticket was a trial
BREAKER_SUCCESS = """
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[3], ARGV[1]) end
local st = redis.call('HGET', KEYS[1], 'state') or 'closed'
if st == 'open' or (st == 'half_open' and ARGV[2] ~= '1') then return st end
redis.call('HSET', KEYS[1], 'state', 'closed')
redis.call('DEL', KEYS[2])
return 'closed'
"""

_EXPIRE = NOW + """
if redis.call('GET', KEYS[5]) ~= ARGV[1] then return {-2} end
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, rid in ipairs(old) do
  local r = redis.call('HGET', KEYS[3], rid)
  if r then
    local d = cjson.decode(r)
    for _, s in ipairs(d[2]) do redis.call('HINCRBYFLOAT', KEYS[2], s, -d[1]) end
    redis.call('HDEL', KEYS[3], rid)
  end
end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now) end
local function drop(rid)
  local r = redis.call('HGET', KEYS[3], rid)
  if not r then return end
  local d = cjson.decode(r)
  for _, s in ipairs(d[2]) do redis.call('HINCRBYFLOAT', KEYS[2], s, -d[1]) end
  redis.call('HDEL', KEYS[3], rid)
  redis.call('ZREM', KEYS[4], rid)
end
"""

# KEYS: spent hash, held hash, reservations hash, expiries zset, epoch.
# ARGV: epoch, reservation id, amount, ttl_s, then (scope, limit or -1) pairs
BUDGET_RESERVE = _EXPIRE + """
local amount = tonumber(ARGV[3])
local scopes = {}
for i = 5, #ARGV, 2 do
  local s, lim = ARGV[i], tonumber(ARGV[i + 1])
  table.insert(scopes, s)
  if lim >= 0 then
    local spent = tonumber(redis.call('HGET', KEYS[1], s) or '0')
    if spent + tonumber(redis.call('HGET', KEYS[2], s) or '0') + amount > lim + 1e-12 then
      return {0, s, tostring(spent)}
    end
  end
end
for _, s in ipairs(scopes) do redis.call('HINCRBYFLOAT', KEYS[2], s, amount) end
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({amount, scopes}))
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[2])
return {1}
"""

# KEYS as BUDGET_RESERVE. ARGV: epoch, reservation id, actual cost (-1: release), then scopes
BUDGET_SETTLE = _EXPIRE + """
drop(ARGV[2])
local actual = tonumber(ARGV[3])
if actual >= 0 then
  for i = 4, #ARGV do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], actual) end
end
return {1}
"""

# KEYS: the key's window hash. ARGV: limit, window_s. Returns '' (go) or the seconds to wait.
RATE_HIT = NOW + """
local limit, win = tonumber(ARGV[1]), tonumber(ARGV[2])
local w = math.floor(now / win)
local cw = tonumber(redis.call('HGET', KEYS[1], 'w') or tostring(w))
local cur = tonumber(redis.call('HGET', KEYS[1], 'cur') or '0')
local prev = tonumber(redis.call('HGET', KEYS[1], 'prev') or '0')
if cw ~= w then
  if cw == w - 1 then prev = cur else prev = 0 end
  cur = 0
end
local into = now - w * win
redis.call('HSET', KEYS[1], 'w', w, 'cur', cur, 'prev', prev)
redis.call('EXPIRE', KEYS[1], math.ceil(2 * win) + 1)
if prev * (1 - into / win) + cur + 1 <= limit then
  redis.call('HINCRBY', KEYS[1], 'cur', 1)
  return ''
end
if cur + 1 > limit or prev <= 0 then return tostring(math.max(0.001, win - into)) end
return tostring(math.max(0.001, (1 - (limit - cur - 1) / prev) * win - into))
"""

# KEYS: the namespace's hash. ARGV: cell, reward, half_life_s (0: none)
BANDIT_ADD = NOW + """
local r = redis.call('HGET', KEYS[1], ARGV[1])
local s, n, t = 0, 0, now
if r then local d = cjson.decode(r); s, n, t = d[1], d[2], d[3] end
local hl = tonumber(ARGV[3])
if hl > 0 then
  local f = math.pow(0.5, math.max(0, now - t) / hl)
  s, n = s * f, n * f
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({s + tonumber(ARGV[2]), n + 1, now}))
return 1
"""

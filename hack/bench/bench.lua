-- wrk script of hack/bench: the request pattern of one benchmark, and a
-- one-line JSON summary (prefix BENCHJSON) that test/bench parses.
--
-- Arguments (after `--` on the wrk command line):
--   list   PREFIX N [FIRST]  PREFIX<FIRST> .. PREFIX<FIRST+N-1> in turn (a hot set)
--   random PREFIX N [FIRST]  a uniformly random one of those
--   unique PREFIX            a new URL every request, PREFIX<thread>-<counter>
--                            (misses: nothing is ever requested twice)
-- FIRST defaults to 0.
-- Requests for list and for random with N <= 100000 are formatted once in
-- init, so wrk spends its time on the network, not in Lua.

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local mode, prefix, n, first
local reqs = {}
local i, counter = 0, 0

function init(args)
  mode, prefix, n, first = args[1], args[2], tonumber(args[3] or "1"), tonumber(args[4] or "0")
  math.randomseed(os.time() + (tid or 0))
  if mode == "list" or (mode == "random" and n <= 100000) then
    for k = 1, n do
      reqs[k] = wrk.format(nil, prefix .. (first + k - 1))
    end
  end
end

function request()
  if mode == "list" then
    i = i % n + 1
    return reqs[i]
  elseif mode == "random" then
    if n <= 100000 then
      return reqs[math.random(n)]
    end
    return wrk.format(nil, prefix .. (first + math.random(n) - 1))
  end
  counter = counter + 1
  return wrk.format(nil, prefix .. tid .. "-" .. counter)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"durationMicros":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyMicros":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end

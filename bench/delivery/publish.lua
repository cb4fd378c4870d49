-- wrk script of the delivery benchmark (bench/delivery/bench.py drives it).
--
-- Run with as many threads as connections (-tN -cN): each thread then has one
-- connection, so every answer belongs to the request just sent on it, and a
-- thread that stops after its last answer has nothing left in flight. Each
-- thread POSTs its share of BENCH_REQUESTS (~300 B JSON events) to its
-- target, records per answer the send time, the answer time (CLOCK_MONOTONIC,
-- Python's time.monotonic) and the delivery ids of a 202, then creates
-- BENCH_OUT/<thread>.done and stops.
--
-- Environment:
--   BENCH_TARGETS   "path|token,path|token,...": thread i publishes to target
--                   i mod count (token "-" sends no Authorization header)
--   BENCH_REQUESTS  requests in all, shared out over the threads
--   BENCH_THREADS   wrk's -t
--   BENCH_OUT       a directory: the .done markers, and answers.tsv written at
--                   the end ("sent_us  answered_us  status  id,id,...")
--   BENCH_MIX       optional N: every Nth event of a thread is an
--                   agent-framework-resource-updated event instead (a log
--                   of two types, for the deliveries query's type filter)
-- Prints one line "BENCH_JSON {...}" with wrk's own counts, duration and
-- latency percentiles. wrk calls response() only for an answer with at least
-- one header: a run against a Worker that answers with none is bounded by -d
-- and measured by those figures alone.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + math.floor(tonumber(clock.tv_nsec) / 1000)
end

local targets = {}
for path, token in string.gmatch(os.getenv("BENCH_TARGETS") or "", "([^|,]+)|([^,]+)") do
  targets[#targets + 1] = { path = path, token = token }
end
local total = tonumber(os.getenv("BENCH_REQUESTS"))
local thread_count = tonumber(os.getenv("BENCH_THREADS"))
local out = os.getenv("BENCH_OUT")
local mix = tonumber(os.getenv("BENCH_MIX") or "0")

-- The event's text around the thread and sequence numbers: 300 bytes in all.
local BODY = '{"type":"conversation-post-processing-complete","post_processing_type":"generate-tasks",' ..
  '"conversation_id":"bench-%02d-%06d","org_id":"bench","service_id":"svc-delivery-benchmark",' ..
  '"summary":"Post-processing of the conversation finished: tasks were generated and stored for the ' ..
  'assistant to pick up on its next turn."}'
local OTHER = '{"type":"agent-framework-resource-updated","org_id":"bench","resource_type":"agent",' ..
  '"resource_id":"bench-%02d-%06d","updated_at":"2026-01-02T03:04:05Z"}'

local threads = {}

function setup(thread)
  local index = #threads
  local target = targets[(index % #targets) + 1]
  thread:set("index", index)
  thread:set("path", target.path)
  thread:set("token", target.token)
  threads[#threads + 1] = thread
end

function init(args)
  share = math.floor(total / thread_count) + ((index < total % thread_count) and 1 or 0)
  sent, answered, sent_at = 0, 0, 0
  answers = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if token ~= "-" then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  sent = sent + 1
  sent_at = now_us()
  local body = (mix > 0 and sent % mix == 0) and OTHER or BODY
  return wrk.format(nil, path, nil, string.format(body, index, sent))
end

function response(status, headers, body)
  local at = now_us()
  answered = answered + 1
  local ids = {}
  if status == 202 then
    local list = string.match(body, '"delivery_ids":%[(.-)%]') or ""
    for id in string.gmatch(list, '"([^"]+)"') do ids[#ids + 1] = id end
  end
  answers[#answers + 1] = string.format("%d\t%d\t%d\t%s", sent_at, at, status, table.concat(ids, ","))
  if answered >= share then
    io.open(out .. "/" .. index .. ".done", "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local f = io.open(out .. "/answers.tsv", "w")
  for _, thread in ipairs(threads) do
    for _, line in ipairs(thread:get("answers") or {}) do
      f:write(line, "\n")
    end
  end
  f:close()
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

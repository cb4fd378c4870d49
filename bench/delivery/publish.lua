-- wrk script of the delivery benchmark: each thread publishes BENCH_EVENTS /
-- threads events (POST /v1/{org}/webhook_event/) and stops; prints one line
-- "BENCH_JSON {...}" with the counts by status and the elapsed time.
--   BENCH_PATH    the publish path;  BENCH_TOKEN  a bearer token
--   BENCH_EVENTS  events in all;     BENCH_THREADS  wrk's -t

local path = os.getenv("BENCH_PATH")
local token = os.getenv("BENCH_TOKEN")
local per_thread = math.floor(tonumber(os.getenv("BENCH_EVENTS")) / tonumber(os.getenv("BENCH_THREADS")))
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  sent, answered, accepted, seq = 0, 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  seq = seq + 1
  local body = string.format(
    '{"type":"conversation-post-processing-complete","post_processing_type":"generate-tasks","conversation_id":"c-%d-%d","org_id":"bench"}',
    id or 0, seq)
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  answered = answered + 1
  if status == 202 then accepted = accepted + 1 end
  if answered >= per_thread then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local answered_all, accepted_all = 0, 0
  for _, t in ipairs(threads) do
    answered_all = answered_all + t:get("answered")
    accepted_all = accepted_all + t:get("accepted")
  end
  io.write(string.format('BENCH_JSON {"answered":%d,"accepted":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d}\n',
    answered_all, accepted_all, summary.duration, latency:percentile(50), latency:percentile(99)))
end

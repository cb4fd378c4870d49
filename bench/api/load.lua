-- wrk script of the management-API benchmark (bench/api/bench.py drives it).
--
-- Environment:
--   BENCH_MODE     "get" (GET the destination list, or BENCH_PATH when set)
--                  or "create_delete" (each
--                  connection creates a destination, then deletes it, in turn)
--   BENCH_TENANTS  "org:token,org:token,...": one tenant per wrk thread, so
--                  that no organization ever holds more live destinations than
--                  one thread has connections (the limit is 10)
-- Prints one line "BENCH_JSON {...}" with counts, statuses and latency
-- percentiles in microseconds.

local mode = os.getenv("BENCH_MODE") or "get"
local tenants = {}
for org, token in string.gmatch(os.getenv("BENCH_TENANTS") or "", "([^:,]+):([^,]+)") do
  tenants[#tenants + 1] = { org = org, token = token }
end

local threads = {}
local next_tenant = 1

function setup(thread)
  local t = tenants[((next_tenant - 1) % #tenants) + 1]
  next_tenant = next_tenant + 1
  thread:set("org", t.org)
  thread:set("token", t.token)
  threads[#threads + 1] = thread
end

local create_body = '{"url":"https://hooks.example.com/bench","accepted_types":["api-key-expiration-soon"]}'
local pending_deletes = {}
statuses = {}

function init(args)
  list_path = "/v1/" .. org .. "/webhook_destination/"
  get_path = os.getenv("BENCH_PATH") or list_path
  if token ~= "-" then wrk.headers["Authorization"] = "Bearer " .. token end
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if mode == "get" then
    return wrk.format("GET", get_path)
  end
  local id = table.remove(pending_deletes)
  if id then
    return wrk.format("DELETE", list_path .. id)
  end
  return wrk.format("POST", list_path, nil, create_body)
end

if mode == "create_delete" then
  function response(status, headers, body)
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
    if status == 201 then
      local id = string.match(body, '"webhook_destination_id":"(%x+)"')
      if id then pending_deletes[#pending_deletes + 1] = id end
    end
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    if s then
      for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end
    end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ",")))
end

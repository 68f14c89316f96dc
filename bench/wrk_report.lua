-- wrk script of bench/load.py: prints one machine-readable line at the end, and counts
-- 200 responses whose body lacks the expected text (args[1]), e.g. a status that fell back to
-- the database because the Redis read timed out.
--   wrk -s bench/wrk_report.lua ... URL -- '"current":9,'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expect = args[1]
  checked = 0
  mismatched = 0
end

function response(status, headers, body)
  if status == 200 and expect ~= nil then
    checked = checked + 1
    if body == nil or not string.find(body, expect, 1, true) then
      mismatched = mismatched + 1
    end
  end
end

function done(summary, latency, requests)
  local checked_total, mismatched_total = 0, 0
  for _, thread in ipairs(threads) do
    checked_total = checked_total + (thread:get("checked") or 0)
    mismatched_total = mismatched_total + (thread:get("mismatched") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"status":%d,"checked":%d,"mismatched":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout,
    e.status, checked_total, mismatched_total))
end

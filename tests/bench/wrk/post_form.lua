-- One POST, the same bytes to every server of a run: Stripe's create+confirm as a
-- form body, with the test-mode key the simulator namespaces by. The path comes from
-- the URL wrk is given (`/` for the raw baseline, `/stripe/v1/payment_intents` for
-- the simulator).
--
-- done() prints one line, `WRK_RESULT {json}`, that loadbench.py parses: wrk's text
-- summary rounds its numbers and hides the percentiles above 99%.

wrk.method = "POST"
wrk.body = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer sk_test_bench"

function done(summary, latency, requests)
  local e = summary.errors
  local us = function(p) return latency:percentile(p) end
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    us(50), us(75), us(90), us(99), us(99.9)))
end

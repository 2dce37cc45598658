-- wrk script of bench/bench.py: done() prints one line
--   WRKJSON {"requests":..,"seconds":..,"rps":..,"p50_us":..,"p99_us":..,
--            "max_us":..,"errors":..,"non2xx3xx":..}

done = function(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        'WRKJSON {"requests":%d,"seconds":%.3f,"rps":%.1f,' ..
        '"p50_us":%d,"p99_us":%d,"max_us":%d,"errors":%d,"non2xx3xx":%d}\n',
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect + e.read + e.write + e.timeout, e.status))
end

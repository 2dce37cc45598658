-- wrk script of bench/bench.py.  done() prints one line
--   WRKJSON {"requests":..,"seconds":..,"rps":..,"p50_us":..,"p99_us":..,
--            "errors":..,"non2xx3xx":..}
-- Environment (all optional):
--   WRK_LIMIT  stop each thread after this many responses (0: run -d)
--   WRK_ALT    a second path: requests alternate between the URL's path and
--              this one (the login phase: start a login, then complete it)

local limit = tonumber(os.getenv("WRK_LIMIT") or "0") or 0
local alt = os.getenv("WRK_ALT")
local count = 0
local flip = false

if alt and alt ~= "" then
    request = function()
        flip = not flip
        if flip then
            return wrk.format(nil, wrk.path)
        end
        return wrk.format(nil, alt)
    end
end

if limit > 0 then
    response = function(status, headers, body)
        count = count + 1
        if count >= limit then
            wrk.thread:stop()
        end
    end
end

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

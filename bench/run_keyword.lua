-- wrk script for bench/compare.sh.
-- Usage: wrk ... -s run_keyword.lua URL -- BODY_FILE
-- Every request POSTs BODY_FILE (run_keyword.xml: the XML-RPC call
-- run_keyword("Get Time Based OTP", ["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"]),
-- as Robot Framework's Remote library sends it) as text/xml.
-- done() prints one machine-readable line that compare.sh parses.

wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml"

function init(args)
   local f = assert(io.open(args[1] or "run_keyword.xml", "rb"))
   wrk.body = f:read("*a")
   f:close()
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f avg_us=%.1f p50_us=%d p99_us=%d max_us=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency.mean, latency:percentile(50), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end

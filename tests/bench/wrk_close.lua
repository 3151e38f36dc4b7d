-- SPDX-License-Identifier: GPL-2.0-or-later
-- wrk: a new TLS connection per request, and one JSON line at the end:
-- requests, errors, and the latency distribution (connect to response,
-- in microseconds) for the CDF plots.
wrk.headers["Connection"] = "close"

done = function(summary, latency, requests)
	local e = summary.errors
	local pct = {}
	for _, p in ipairs({ 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95,
			     98, 99, 99.5, 99.9 }) do
		pct[#pct + 1] = string.format("[%g, %d]", p,
					      latency:percentile(p))
	end
	io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, ' ..
		'"errors": {"connect": %d, "read": %d, "write": %d, ' ..
		'"timeout": %d, "status": %d}, "latency_us": [%s]}\n',
		summary.requests, summary.duration / 1e6, e.connect, e.read,
		e.write, e.timeout, e.status, table.concat(pct, ", ")))
end

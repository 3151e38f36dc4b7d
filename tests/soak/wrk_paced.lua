-- SPDX-License-Identifier: GPL-2.0-or-later
-- wrk for the soak: the bench's script (a new TLS connection per
-- request, a RESULT line at the end), each connection pausing
-- WRK_DELAY_MS between requests, so that the rate stays where it was
-- set (connections ÷ (latency + pause)) and the machine is not saturated.
dofile(os.getenv("WRK_CLOSE"))
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")

function delay()
	return pause
end

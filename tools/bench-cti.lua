-- SPDX-License-Identifier: MPL-2.0
-- wrk script of tools/bench cti: posts call events to POST
-- /api/v1/cti/events, one event or a batch a request, with call ids that
-- are new in every run. The events are a day that tools/simulate made
-- (BENCH_TEMPLATE, a Lua table written by tools/bench): each wrk thread
-- sends that day over and over in its delivery order, every round with
-- its own call ids and callers' numbers, so the mix of calls, outcomes
-- and repeat callers stays the day's.
--
-- Environment: BENCH_TEMPLATE, BENCH_TOKEN (scope cti:write), BENCH_BATCH
-- (events a request; 1 sends single objects), BENCH_RUN (a text that
-- makes this run's call ids unique), BENCH_ROW (a small number that makes
-- this row's callers differ from the other rows').
-- At the end it prints one line, "BENCH events=N bad=N duplicates=N":
-- events sent in answered requests, answers or results that were not
-- stored, and results that were repeats (there should be none).

local template = dofile(os.getenv("BENCH_TEMPLATE"))
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local run = os.getenv("BENCH_RUN") or "0"
local row = tonumber(os.getenv("BENCH_ROW") or "0")
local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
	pos, round, bad, dups, answers = 0, 0, 0, 0, 0
end

-- Event i of the day in this thread's current round.
local function event(i)
	local e = template[i]
	local from = "anonymous"
	if e.p > 0 then
		-- A caller's number for this round: numbers repeat within a
		-- round as they do in the day, not across rounds.
		local k = ((row * 64 + tid) * 100000 + round) * 4096 + e.p
		from = string.format("+45%08d", 20000000 + (k * 7919) % 80000000)
	end
	return '{"call_id":"b' .. run .. "-" .. row .. "-" .. tid .. "-" ..
		round .. "-" .. e.c .. '","from":"' .. from .. '",' .. e.rest
end

function request()
	local parts = {}
	for k = 1, batch do
		pos = pos + 1
		if pos > #template then
			pos, round = 1, round + 1
		end
		parts[k] = event(pos)
	end
	local body = parts[1]
	if batch > 1 then
		body = "[" .. table.concat(parts, ",") .. "]"
	end
	return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
	answers = answers + 1
	if status ~= 200 and status ~= 201 then
		bad = bad + batch
		return
	end
	for _ in string.gmatch(body, '"status":"duplicate"') do
		dups = dups + 1
	end
	for _ in string.gmatch(body, '"status":"rejected"') do
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local b, d, n = 0, 0, 0
	for _, t in ipairs(threads) do
		b = b + t:get("bad")
		d = d + t:get("dups")
		n = n + t:get("answers")
	end
	io.write(string.format("BENCH events=%d bad=%d duplicates=%d\n",
		n * batch, b, d))
end

-- bench/hrana.lua: the wrk script of bench/run.sh.  Drives tenantd over
-- keep-alive HTTP: Hrana pipelines (execute + close, the form @libsql/client
-- sends) to /t/{tenant}/v2/pipeline, or tenant creation on /v1/tenants.
--
-- Everything is chosen by environment variables (run.sh sets them):
--   BENCH_OP       select | update | mix (90% select, 10% update) |
--                  create (new tenants, schema BENCH_SCHEMA or null)
--   BENCH_TENANTS  N: tenants b0 .. b{N-1} (100 rows each, k = 1..100)
--   BENCH_DIST     uniform | zipf (rank 1 = tenant b0, P(r) ~ r^-s) |
--                  seq (round robin over the N tenants: every tenant is
--                  revisited only after all N others, so an LRU smaller
--                  than N never holds it: each request is a cold open)
--   BENCH_ZIPF_S   Zipf exponent (1.1)
--   BENCH_COUNT    stop after this many requests in total (each thread
--                  takes every T-th tenant of b0 .. b{COUNT-1}, once): the
--                  loader and the "open K handles" pass of the memory test
--   BENCH_DONE     count mode: path prefix for the "thread finished" files;
--                  the last thread to finish wakes wrk's main thread, which
--                  otherwise sleeps for the whole -d duration
--   BENCH_SCHEMA   schema for BENCH_OP=create ("" = null)
--   BENCH_PREFIX   id prefix for BENCH_OP=create (new ids per run)
--   BENCH_RATE     total target rate in requests/s: each thread paces its
--                  connections with delay() against a fixed schedule
--   BENCH_THREADS  wrk's -t (each thread takes every BENCH_THREADS-th tenant
--                  in seq and count modes)
--   BENCH_CHECK    1: read every response and count the ones that are not
--                  the expected status or carry a Hrana error
-- done() prints one line "RESULT key=value ..." that run.sh parses.

local nthreads_env = 0
local threads = {}

-- Main (setup/done) environment: number the threads.  (wrk runs each
-- thread's init() right after its setup(), so the thread count comes from
-- BENCH_THREADS, not from counting setup() calls.)
function setup(thread)
	nthreads_env = nthreads_env + 1
	thread:set("tid", nthreads_env - 1)
	table.insert(threads, thread)
end

local function env(name, default)
	local v = os.getenv(name)
	if v == nil or v == "" then
		return default
	end
	return v
end

local op = env("BENCH_OP", "select")
local ntenants = tonumber(env("BENCH_TENANTS", "1000"))
local dist = env("BENCH_DIST", "uniform")
local zipf_s = tonumber(env("BENCH_ZIPF_S", "1.1"))
local count = tonumber(env("BENCH_COUNT", "0"))
local rate = tonumber(env("BENCH_RATE", "0"))
local check = env("BENCH_CHECK", "0") == "1"
local schema = env("BENCH_SCHEMA", "")
local prefix = env("BENCH_PREFIX", "c")
local nrows = 100
nthreads = tonumber(env("BENCH_THREADS", "1"))

-- Per-thread state (globals so that done() can read them with thread:get).
bad = 0		-- responses with the wrong status or a Hrana error
real = 0	-- responses to real requests (BENCH_COUNT mode)

local cdf		-- Zipf: cdf[r] = P(rank <= r)
local seq_next		-- seq/count: this thread's next tenant index
local quota		-- count mode: requests this thread sends
local sent = 0
local tails_select, tails_update	-- request tails by key
local health		-- filler request once a count quota is used up
local health_body = '{"status":"ok"}'
local next_slot		-- rate limiting: when the next request is due (ms)
local interval		-- rate limiting: ms between this thread's requests
local clock_ms
local quota_done_at
local verified = false
local done_prefix = env("BENCH_DONE", "")

-- Count mode: this thread has all its answers.  Mark it; if every thread
-- is marked, send SIGINT to wrk (its main thread) (wrk's handler ends the
-- sleep(duration) there, joins the threads and calls done()).
local function finish()
	if done_prefix ~= "" then
		local f = io.open(done_prefix .. tid, "w")
		if f then
			f:close()
		end
		local all = true
		for t = 0, nthreads - 1 do
			local g = io.open(done_prefix .. t, "r")
			if g then
				g:close()
			else
				all = false
			end
		end
		if all then
			local ffi = require("ffi")
			ffi.cdef[[
				int getpid(void);
				int kill(int, int);
			]]
			-- Linux hands a process signal to the main thread first
			-- when it does not block it (wrk's main does not).
			ffi.C.kill(ffi.C.getpid(), 2)	-- SIGINT
		end
	end
	wrk.thread:stop()
end

local function tail(body)
	return " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
	    "\r\nContent-Type: application/json\r\nContent-Length: " .. #body ..
	    "\r\n\r\n" .. body
end

local function integer(v)
	return '{"type":"integer","value":"' .. v .. '"}'
end

local function pipeline(sql, args)
	return '{"requests":[{"type":"execute","stmt":{"sql":"' .. sql ..
	    '","args":[' .. table.concat(args, ",") ..
	    '],"want_rows":true}},{"type":"close"}]}'
end

-- Zipf over ranks 1..n with exponent s: a cumulative table, searched with a
-- uniform draw.  Rank r is tenant b{r-1}, as pgbench's random_zipfian(0,
-- n-1, s) makes 0 the most frequent value.
local function zipf_init(n, s)
	local t, sum = {}, 0
	for r = 1, n do
		sum = sum + r ^ (-s)
		t[r] = sum
	end
	for r = 1, n do
		t[r] = t[r] / sum
	end
	t[n] = 1.0
	return t
end

local function zipf_draw()
	local u = math.random()
	local lo, hi = 1, ntenants
	while lo < hi do
		local mid = math.floor((lo + hi) / 2)
		if cdf[mid] < u then
			lo = mid + 1
		else
			hi = mid
		end
	end
	return lo - 1
end

local function next_tenant()
	if dist == "zipf" then
		return zipf_draw()
	elseif dist == "seq" then
		local t = seq_next
		seq_next = seq_next + nthreads
		if seq_next >= ntenants then
			seq_next = tid
		end
		return t
	end
	return math.random(0, ntenants - 1)
end

function init(args)
	math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
	if dist == "zipf" then
		cdf = zipf_init(ntenants, zipf_s)
	end
	seq_next = tid
	if count > 0 then
		quota = math.floor((count - tid + nthreads - 1) / nthreads)
		ntenants = count
	end
	tails_select, tails_update = {}, {}
	for k = 1, nrows do
		tails_select[k] = tail(pipeline("SELECT v FROM kv WHERE k = ?",
		    { integer(k) }))
		tails_update[k] = {}
		for j = 1, 8 do
			tails_update[k][j] = tail(pipeline(
			    "UPDATE kv SET v = ? WHERE k = ?",
			    { '{"type":"text","value":"updated-' .. k .. '-' ..
			    j .. '"}', integer(k) }))
		end
	end
	health = "GET /health" .. tail("")
	if rate > 0 then
		local ffi = require("ffi")
		ffi.cdef[[
			typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
			int clock_gettime(int, bench_timespec *);
		]]
		local ts = ffi.new("bench_timespec")
		clock_ms = function()
			ffi.C.clock_gettime(1, ts)	-- CLOCK_MONOTONIC
			return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
		end
		interval = 1000 * nthreads / rate
		next_slot = clock_ms()
	elseif count == 0 then
		delay = nil
	end
	if not check and count == 0 then
		response = nil		-- wrk then skips parsing bodies
	end
end

function request()
	-- wrk calls thread 0's request() once before the run to check the
	-- request parses; that call must not use up a tenant id.
	if tid == 0 and not verified then
		verified = true
		return health
	end
	if count > 0 and sent >= quota then
		return health
	end
	sent = sent + 1
	if op == "create" then
		local id
		if count > 0 then
			id = "b" .. next_tenant()
		else
			id = prefix .. tid .. "-" .. sent
		end
		local body = '{"id":"' .. id .. '","schema":' ..
		    (schema == "" and "null" or ('"' .. schema .. '"')) .. '}'
		return "POST /v1/tenants" .. tail(body)
	end
	local path = "POST /t/b" .. next_tenant() .. "/v2/pipeline"
	local k = math.random(1, nrows)
	if op == "update" or (op == "mix" and math.random() < 0.1) then
		return path .. tails_update[k][math.random(1, 8)]
	end
	return path .. tails_select[k]
end

-- Pace against a schedule: a late thread catches up (no delay) instead of
-- silently lowering the rate, but never by more than one second of backlog.
function delay()
	if count > 0 then
		if sent < quota then
			return 0
		end
		-- Quota sent: idle until the last answers are in, but give up
		-- after 30 s (a lost answer must not hang the run).
		quota_done_at = quota_done_at or os.time()
		if os.time() - quota_done_at > 30 then
			finish()
		end
		return 20
	end
	local now = clock_ms()
	if next_slot < now - 1000 then
		next_slot = now - 1000
	end
	local d = next_slot - now
	next_slot = next_slot + interval
	if d < 1 then
		return 0
	end
	return math.floor(d)
end

function response(status, headers, body)
	if count > 0 and status == 200 and body == health_body then
		if real >= quota then
			finish()	-- a filler: only waiting for the end
		end
		return
	end
	local want = (op == "create") and 201 or 200
	if status ~= want or (op ~= "create" and
	    string.find(body, '"type":"error"', 1, true)) then
		bad = bad + 1
		if bad <= 3 then
			io.stderr:write("bench: unexpected response " .. status ..
			    ": " .. string.sub(body, 1, 300) .. "\n")
		end
	end
	if count > 0 then
		real = real + 1
		if real >= quota then
			finish()
		end
	end
end

function done(summary, latency, requests)
	local nbad = 0
	for _, t in ipairs(threads) do
		nbad = nbad + (t:get("bad") or 0)
	end
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d rps=%.1f " ..
	    "p50_us=%d p99_us=%d mean_us=%.1f max_us=%d " ..
	    "err_connect=%d err_read=%d err_write=%d err_status=%d " ..
	    "err_timeout=%d bad=%d\n",
	    summary.requests, summary.duration,
	    summary.requests / (summary.duration / 1e6),
	    latency:percentile(50), latency:percentile(99), latency.mean,
	    latency.max, e.connect, e.read, e.write, e.status, e.timeout, nbad))
end

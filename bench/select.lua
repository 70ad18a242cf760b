-- wrk script: point selects by primary key on random tenants over keep-alive
-- HTTP, in the exact form @libsql/client sends (execute + close).
local ntenants = tonumber(os.getenv("BENCH_TENANTS") or "1000")
local nrows = 100
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())
request = function()
	local t = math.random(0, ntenants - 1)
	local k = math.random(1, nrows)
	local body = '{"requests":[{"type":"execute","stmt":{"sql":"SELECT v FROM kv WHERE k = ?",' ..
	    '"args":[{"type":"integer","value":"' .. k .. '"}],"want_rows":true}},{"type":"close"}]}'
	return wrk.format(nil, "/t/b" .. t .. "/v2/pipeline", nil, body)
end

-- POST one fixed body on every request. The runner names the body file and the headers:
--   BENCH_BODY          path of the body (read once, bytes as they are: JSON or binary)
--   BENCH_CONTENT_TYPE  Content-Type of the body (default application/json)
--   BENCH_ACCEPT        Accept header, when the answer should be binary (optional)
local path = assert(os.getenv("BENCH_BODY"), "set BENCH_BODY to the body file")
local file = assert(io.open(path, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local accept = os.getenv("BENCH_ACCEPT")
if accept and accept ~= "" then
  wrk.headers["Accept"] = accept
end

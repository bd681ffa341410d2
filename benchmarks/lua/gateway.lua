-- post.lua's request, plus the manager's token, for the gateway benchmark:
--   BENCH_POST_LUA       path of post.lua (its variables: BENCH_BODY, BENCH_CONTENT_TYPE, ...)
--   BENCH_AUTHORIZATION  the Authorization header (e.g. "Bearer ..."), optional
dofile(assert(os.getenv("BENCH_POST_LUA"), "set BENCH_POST_LUA to benchmarks/lua/post.lua"))
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

"""The servers the benchmarks drive: the same routes in plain FastAPI and in mvi."""

"""Side-by-side benchmarks of mvi and plain FastAPI; run ``python -m benchmarks.run``."""

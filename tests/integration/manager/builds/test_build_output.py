"""The environment builder hands on its tool's output line by line, as it is printed."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from mvi._exceptions import BuildFailed
from mvi.manager.builds.environments import EnvironmentBuilder

SCRIPT = """
import sys, time
print("first", flush=True)
time.sleep(1.5)
print("second, then no newline", end="", flush=True)
sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_output_lines_arrive_while_the_process_runs(tmp_path: Path, code: int) -> None:
    builder = EnvironmentBuilder(tmp_path / "envs", timeout=60, uv=sys.executable)
    seen: list[tuple[float, str]] = []
    started = time.monotonic()

    async def run() -> None:
        args = [sys.executable, "-c", SCRIPT, str(code)]
        await builder._run(args, tmp_path, lambda line: seen.append((time.monotonic(), line)))

    if code:
        with pytest.raises(BuildFailed, match="second, then no newline"):
            asyncio.run(run())
    else:
        asyncio.run(run())
    finished = time.monotonic()
    assert [line for _, line in seen] == ["first", "second, then no newline"]
    assert seen[0][0] - started < finished - started - 1.0  # before the process ended

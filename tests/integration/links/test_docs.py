"""Every Python block of docs/links.md runs, from the repository's root folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "links.md").read_text(), re.S)


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_the_block_runs(number: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKS[number]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) == 4

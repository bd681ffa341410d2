"""Where a server spends its time: py-spy's collapsed stacks, summed per function.

``py-spy record --format raw`` writes one line per distinct stack, ``frame;frame;... N``
(each frame ``function (file:line)``). :func:`summarize` is a pure function of that text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INSTALL_HINT", "ProfileLine", "format_profile", "record", "summarize"]

INSTALL_HINT = "py-spy is not installed: pip install py-spy (or pip install -e '.[bench]')"

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>.+?)(?::\d+)?\)$")
_SITE = re.compile(r".*/(?:site-packages|lib/python3\.\d+)/")


@dataclass(frozen=True)
class ProfileLine:
    """One function: the share of samples in it (own) and under it (total)."""

    function: str
    own: float
    total: float


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = _SITE.sub("", match.group("file"))
    return f"{match.group('function')} ({file})"


def summarize(collapsed: str, top: int = 20) -> tuple[int, list[ProfileLine]]:
    """Total samples, and the ``top`` functions by own time with their total time."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        own[frames[-1]] += n
        for name in set(frames):
            total[name] += n
    if samples == 0:
        return 0, []
    lines = [
        ProfileLine(name, own[name] / samples, total[name] / samples)
        for name, _ in own.most_common(top)
    ]
    return samples, lines


def format_profile(samples: int, lines: list[ProfileLine]) -> str:
    """The summary as text: own %, total %, function."""
    out = [f"{samples} samples", "  own  total  function"]
    out += [f"{line.own:5.1%} {line.total:6.1%}  {line.function}" for line in lines]
    return "\n".join(out)


def record(pid: int, seconds: float, output: Path, rate: int = 250) -> str:
    """Sample ``pid``, its threads and its child processes for ``seconds``; the collapsed
    stacks as text."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise RuntimeError(INSTALL_HINT)
    subprocess.run(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
            "--subprocesses",
        ],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )
    return output.read_text()

"""The machine a run was made on: CPU, cores, load, Python and package versions."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["PACKAGES", "cpu_model", "describe", "load", "markdown_table"]

PACKAGES = (
    "mvi",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "pydantic-core",
    "orjson",
    "msgpack",
    "numpy",
    "prometheus-client",
    "pyzmq",
)


def cpu_model(cpuinfo: str) -> str:
    """The ``model name`` in the text of /proc/cpuinfo (``unknown`` if there is none)."""
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    try:
        done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def describe() -> list[tuple[str, str]]:
    """What to record beside the figures, as (what, value) pairs."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    return [
        ("CPU", cpu_model(cpuinfo)),
        ("cores", str(os.cpu_count())),
        ("kernel", platform.release()),
        ("Python", platform.python_version()),
        ("wrk", _wrk_version()),
        ("packages", ", ".join(f"{p} {_version(p)}" for p in PACKAGES)),
    ]


def markdown_table(loads: tuple[str, str]) -> list[str]:
    """The machine as the lines of a Markdown table, with the load before and after."""
    return [
        "| machine | |",
        "|---|---|",
        *(f"| {what} | {value} |" for what, value in describe()),
        f"| load average (1/5/15 min) | before {loads[0]}; after {loads[1]} |",
    ]

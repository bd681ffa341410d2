"""``python -m mvi.links``: run a link service file (the same as ``mvi link``)."""

from __future__ import annotations

import sys

from mvi.links.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main(prog="python -m mvi.links"))

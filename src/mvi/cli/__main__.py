"""``python -m mvi.cli``: the ``mvi`` command, for when its script is not on ``PATH``."""

from __future__ import annotations

from mvi.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
